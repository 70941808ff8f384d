// Reads the inputs of pin and check as Kubernetes manifests, compose files or Dockerfiles: each image, where it is, how to rewrite it.
import { extname } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { InputError } from '../errors/index.ts';
import { ImageSlot, listImages } from '../workload/index.ts';
import type { WorkloadKinds } from '../workload/index.ts';
import type { ImageField } from '../workload/index.ts';
import { composeImages, isComposeFileName } from './compose.ts';
import { isDockerfileName, looksLikeDockerfile, parseDockerfile } from './dockerfile.ts';
import { lineOfPointer, parseManifest } from './manifests.ts';
import type { ParsedManifest } from './manifests.ts';
import { applyImageEdits } from './splice.ts';
import { readSources } from './sources.ts';
import type { ManifestSource } from './sources.ts';

/** What an input was read as. */
export type InputFormat = 'kubernetes' | 'compose' | 'dockerfile';

/** Where an image value sits: a YAML node (document and JSON Pointer) or a byte range of a Dockerfile. */
export type EditTarget = { readonly document: number; readonly pointer: string } | { readonly start: number; readonly end: number };

/** One image value with its place; `path` is a JSON Pointer, or the instruction (`FROM`, `COPY`) in a Dockerfile. */
export interface FoundImage extends ImageField {
  /** 1-based line of the value. */
  readonly line: number;
  readonly target: EditTarget;
}

/** What holds images: a Kubernetes object, a build stage (`stage`), a compose service (`service`). */
export interface FoundObject {
  readonly kind: string;
  readonly name: string | undefined;
  readonly namespace: string | undefined;
  readonly line: number;
  /** Kubernetes objects answer to `mutate.kinds` and `exclude.namespaces`; stages and services do not. */
  readonly kubernetes: boolean;
  readonly images: readonly FoundImage[];
}

/** A new value for one image. */
export interface ImageChange {
  readonly target: EditTarget;
  readonly value: string;
}

/** One input that holds at least one manifest. */
export interface Input {
  readonly source: ManifestSource;
  readonly format: InputFormat;
  readonly objects: readonly FoundObject[];
  /** The source text with `changes` applied and every other byte kept. */
  withImages(changes: readonly ImageChange[]): string;
}

/** What `readInputs` found. */
export interface ReadInputs {
  readonly inputs: readonly Input[];
  /** Lines for stderr: files and values skipped, and why. */
  readonly notes: readonly string[];
}

/** Extensions read as YAML or JSON only, never sniffed for Dockerfile instructions. */
const YAML_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/**
 * Reads every `-f` argument and classifies each input: a Dockerfile by its name (`isDockerfileName`)
 * or, when named directly or on stdin, by a first instruction FROM or ARG; else YAML, whose documents
 * are Kubernetes objects or, in compose files and inputs named directly, compose documents.
 * @throws InputError `no manifests found in PATH` for an argument that holds none, unless `allowEmpty`
 */
export async function readInputs(
  paths: readonly string[],
  readStdin: () => Promise<string>,
  allowEmpty: boolean,
  kinds: WorkloadKinds,
): Promise<ReadInputs> {
  const inputs: Input[] = [];
  const notes: string[] = [];
  for (const group of await readSources(paths, readStdin)) {
    let found = 0;
    for (const source of group.sources) {
      const input = readInput(source, group.walked, kinds, notes);
      if (input === undefined) {
        if (group.walked) notes.push(`${source.name}: no Kubernetes objects, compose services or Dockerfile stages; skipped`);
        continue;
      }
      inputs.push(input);
      found++;
    }
    if (found > 0 || group.repeated) continue;
    const problem = `no manifests found in ${group.path === '-' ? '<stdin>' : group.path}`;
    if (!allowEmpty) {
      throw new InputError(`${problem}: no Kubernetes objects, compose services or Dockerfile stages (use --allow-empty to accept that)`, { where: group.path });
    }
    notes.push(`${problem} (--allow-empty)`);
  }
  return { inputs, notes };
}

function readInput(source: ManifestSource, walked: boolean, kinds: WorkloadKinds, notes: string[]): Input | undefined {
  const named = source.path === undefined ? '' : source.name;
  if (isDockerfileName(named) || (!walked && !YAML_EXTENSIONS.has(extname(named).toLowerCase()) && looksLikeDockerfile(source.text))) {
    return readDockerfile(source, notes);
  }
  return readYaml(parseManifest(source), !walked || isComposeFileName(named), kinds, notes);
}

function readDockerfile(source: ManifestSource, notes: string[]): Input | undefined {
  const parsed = parseDockerfile(source.text);
  if (parsed.stages === 0) return undefined;
  for (const skip of parsed.skipped) notes.push(`${source.name}:${String(skip.line)}: ${skip.instruction} ${skip.value} ${skip.reason}; left as written`);
  const objects = parsed.images.map((image): FoundObject => ({
    kind: 'stage',
    name: image.stage,
    namespace: undefined,
    line: image.line,
    kubernetes: false,
    images: [{ path: image.instruction, value: image.value, slot: ImageSlot.container, name: image.stage, line: image.line, target: { start: image.start, end: image.end } }],
  }));
  return {
    source,
    format: 'dockerfile',
    objects,
    withImages: (changes) => {
      let text = source.text;
      const ranges = changes.flatMap((change) => ('start' in change.target ? [{ ...change.target, value: change.value }] : []));
      for (const range of ranges.sort((a, b) => b.start - a.start)) text = text.slice(0, range.start) + range.value + text.slice(range.end);
      // Read again, the result must hold the same references with only the changed values new.
      const expected = parsed.images.map((image) => ranges.find((range) => range.start === image.start)?.value ?? image.value);
      if (!isDeepStrictEqual(parseDockerfile(text).images.map((image) => image.value), expected)) {
        throw new Error(`${source.name}: pinning would change more than image references; file left unchanged`);
      }
      return text;
    },
  };
}

function readYaml(manifest: ParsedManifest, composeAllowed: boolean, kinds: WorkloadKinds, notes: string[]): Input | undefined {
  const objects: FoundObject[] = [];
  let compose = false;
  for (const [d, document] of manifest.documents.entries()) {
    for (const object of document.objects) {
      // Kinds are told apart by API group too: a Knative Service is not a core Service.
      const kind = kinds.ofObject(object.object);
      const images = (kind === undefined ? [] : listImages(kind, object.object)).map((field): FoundImage => {
        const pointer = object.pointer + field.path;
        return { ...field, path: pointer, line: lineOfPointer(manifest, d, pointer, object.line), target: { document: d, pointer } };
      });
      objects.push({ kind: object.kind, name: object.name, namespace: object.namespace, line: object.line, kubernetes: true, images });
    }
    const services = document.objects.length === 0 && composeAllowed ? composeImages(document.data) : undefined;
    if (services === undefined) continue;
    compose = true;
    for (const service of services) {
      const line = lineOfPointer(manifest, d, service.pointer, 1);
      if (service.skip !== undefined) {
        notes.push(`${manifest.source.name}:${String(line)}: service ${service.service} ${service.skip}; left as written`);
        continue;
      }
      const image: FoundImage = { path: service.pointer, value: service.value, slot: ImageSlot.container, name: service.service, line, target: { document: d, pointer: service.pointer } };
      objects.push({ kind: 'service', name: service.service, namespace: undefined, line, kubernetes: false, images: [image] });
    }
  }
  if (objects.length === 0 && !compose) return undefined;
  return {
    source: manifest.source,
    format: compose && objects.every((object) => !object.kubernetes) ? 'compose' : 'kubernetes',
    objects,
    withImages: (changes) => {
      const edits = changes.flatMap((change) => ('pointer' in change.target ? [{ ...change.target, value: change.value }] : []));
      return edits.length === 0 ? manifest.source.text : applyImageEdits(manifest, edits);
    },
  };
}

/** `KIND/NAME` of an object in messages and `check` text (`Deployment/web`, `stage/build`, `service/db`); `-` for no name. */
export function describeObject(object: Pick<FoundObject, 'kind' | 'name'>): string {
  return `${object.kind}/${object.name ?? '-'}`;
}
