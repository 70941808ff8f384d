// `tagpin pin`: pins every image in manifests, changing nothing but the image values.
import { rename, rm, stat, writeFile, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Config } from '../config/index.ts';
import { InputError } from '../errors/index.ts';
import { isNamespaceExcluded, planMutation } from '../policy/index.ts';
import { formatPinned } from '../reference/index.ts';
import type { ImageReference } from '../reference/index.ts';
import { listImages, workloadKinds } from '../workload/index.ts';
import { ExitCode, formatError } from './errors.ts';
import type { CliIo } from './io.ts';
import { lookupAll } from './lookup.ts';
import type { LookupContext } from './lookup.ts';
import { findNode, parseManifest } from './manifests.ts';
import { readSources } from './sources.ts';
import type { ParsedManifest } from './manifests.ts';
import { applyImageEdits } from './splice.ts';
import type { ImageEdit } from './splice.ts';

/** Options of `runPin`. */
export interface PinOptions {
  /** `-f` arguments: files, directories, `-`. */
  readonly files: readonly string[];
  /** `-w`: rewrite changed files in place (stdin still goes to stdout). */
  readonly write: boolean;
  readonly config: Pick<Config, 'mutate' | 'exclude' | 'workloads'>;
}

/** An image field that needs a lookup, and where it is. */
interface PinTarget {
  readonly manifest: number;
  readonly document: number;
  readonly pointer: string;
  readonly ref: ImageReference;
  /** `file:line`, for messages. */
  readonly location: string;
}

/**
 * Pins every image of the kinds in `mutate.kinds` that has no digest and is not excluded.
 * All or nothing: when any image is invalid or cannot be resolved, each problem is reported and
 * nothing is written (exit 1), so a pipeline never picks up half-pinned manifests.
 */
export async function runPin(options: PinOptions, context: LookupContext, io: CliIo): Promise<number> {
  const sources = await readSources(options.files, () => io.readStdin());
  const manifests = sources.map((source) => parseManifest(source));
  const targets: PinTarget[] = [];
  const problems: string[] = [];
  const kinds = workloadKinds(options.config.workloads);

  for (const [m, manifest] of manifests.entries()) {
    for (const [d, document] of manifest.documents.entries()) {
      for (const object of document.objects) {
        const kind = kinds.ofObject(object.object);
        if (kind === undefined || !options.config.mutate.kinds.includes(kind.kind) || isNamespaceExcluded(object.namespace, options.config.exclude)) continue;
        for (const step of planMutation(listImages(kind, object.object), options.config)) {
          const pointer = object.pointer + step.field.path;
          const location = `${manifest.source.name}:${String(lineOf(manifest, d, pointer, object.line))}`;
          if (step.action === 'invalid') problems.push(`${location}: ${pointer}: ${step.reason ?? 'invalid image'}`);
          else if (step.action === 'resolve' && step.ref !== undefined) targets.push({ manifest: m, document: d, pointer, ref: step.ref, location });
        }
      }
    }
  }

  const answers = await lookupAll(context, targets.map((target) => target.ref));
  const failed = new Set<string>();
  for (const target of targets) {
    const answer = answers.get(target.ref.original);
    if (answer instanceof Error && !failed.has(target.ref.original)) {
      failed.add(target.ref.original);
      problems.push(`${formatError(answer)} (${target.location})`);
    }
  }
  if (problems.length > 0) {
    for (const problem of problems) io.writeErr(`tagpin: ${problem}\n`);
    return ExitCode.failed;
  }

  const outputs = manifests.map((manifest, m) => {
    const edits: ImageEdit[] = [];
    for (const target of targets) {
      const answer = answers.get(target.ref.original);
      if (target.manifest !== m || answer === undefined || answer instanceof Error) continue;
      edits.push({ document: target.document, pointer: target.pointer, value: formatPinned(target.ref, answer.digest, options.config.mutate.output) });
    }
    return edits.length === 0 ? manifest.source.text : applyImageEdits(manifest, edits);
  });

  if (options.write) {
    for (const [m, manifest] of manifests.entries()) {
      const text = outputs[m] ?? manifest.source.text;
      if (manifest.source.path === undefined) io.writeOut(text);
      else if (text !== manifest.source.text) await writeInPlace(manifest.source.path, text);
    }
  } else {
    io.writeOut(joinStreams(outputs));
  }
  return ExitCode.ok;
}

function lineOf(manifest: ParsedManifest, document: number, pointer: string, fallback: number): number {
  const parsed = manifest.documents[document];
  const node = parsed === undefined ? undefined : findNode(parsed.document, pointer);
  return node?.range == null ? fallback : manifest.lineAt(node.range[0]);
}

/** Several inputs printed as one YAML stream: a `---` between them unless the next one starts with its own. */
function joinStreams(texts: readonly string[]): string {
  let out = '';
  for (const text of texts) {
    if (out !== '') {
      if (!out.endsWith('\n')) out += '\n';
      if (!/^---(\s|$)/.test(text)) out += '---\n';
    }
    out += text;
  }
  return out;
}

/** Replaces the file atomically (temporary file + rename), keeping its mode and following symlinks. */
async function writeInPlace(path: string, text: string): Promise<void> {
  let target = path;
  let temporary: string | undefined;
  try {
    target = await realpath(path);
    const { mode } = await stat(target);
    temporary = join(dirname(target), `.${basename(target)}.tagpin-${String(process.pid)}.tmp`);
    await writeFile(temporary, text, { mode: mode & 0o7777, flag: 'wx' });
    await rename(temporary, target);
  } catch (err) {
    if (temporary !== undefined) await rm(temporary, { force: true });
    const reason = (err as { code?: unknown }).code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new InputError(`cannot write ${path}: ${reason}`, { where: path, cause: err });
  }
}
