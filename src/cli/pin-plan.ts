// Which image fields of parsed manifests `pin` looks up, and the pinned text once the answers are in.
import type { Config } from '../config/index.ts';
import type { ResolvedImage } from '../admission/index.ts';
import type { RegistryError } from '../errors/index.ts';
import { isNamespaceExcluded, planMutation } from '../policy/index.ts';
import { formatPinned } from '../reference/index.ts';
import type { ImageReference } from '../reference/index.ts';
import { listImages, workloadKinds } from '../workload/index.ts';
import { lineOfPointer } from './manifests.ts';
import type { ManifestObject, ParsedManifest } from './manifests.ts';
import { applyImageEdits } from './splice.ts';
import type { ImageEdit } from './splice.ts';

/** One image field of one object: where it is, for edits and messages. */
export interface ImageField {
  readonly manifest: number;
  readonly document: number;
  /** JSON Pointer inside the document, `/items/N` prefix included. */
  readonly pointer: string;
  /** The pointer inside the object itself (`/spec/containers/0/image`). */
  readonly fieldPath: string;
  readonly object: ManifestObject;
  /** `file:line`, for messages. */
  readonly location: string;
}

/** An image field that needs a lookup. */
export interface PinTarget extends ImageField {
  readonly ref: ImageReference;
}

/** An image field whose value is not a usable reference. */
export interface InvalidImage extends ImageField {
  readonly reason: string;
}

/** What `planPins` found. */
export interface PinPlan {
  readonly targets: readonly PinTarget[];
  readonly invalid: readonly InvalidImage[];
}

/** Every image of the kinds in `mutate.kinds` that has no digest and is not excluded, and every invalid one. */
export function planPins(manifests: readonly ParsedManifest[], config: Pick<Config, 'mutate' | 'exclude' | 'workloads'>): PinPlan {
  const targets: PinTarget[] = [];
  const invalid: InvalidImage[] = [];
  const kinds = workloadKinds(config.workloads);
  for (const [m, manifest] of manifests.entries()) {
    for (const [d, document] of manifest.documents.entries()) {
      for (const object of document.objects) {
        const kind = kinds.ofObject(object.object);
        if (kind === undefined || !config.mutate.kinds.includes(kind.kind) || isNamespaceExcluded(object.namespace, config.exclude)) continue;
        for (const step of planMutation(listImages(kind, object.object), config)) {
          const pointer = object.pointer + step.field.path;
          const location = `${manifest.source.name}:${String(lineOfPointer(manifest, d, pointer, object.line))}`;
          const field = { manifest: m, document: d, pointer, fieldPath: step.field.path, object, location };
          if (step.action === 'invalid') invalid.push({ ...field, reason: step.reason ?? 'invalid image' });
          else if (step.action === 'resolve' && step.ref !== undefined) targets.push({ ...field, ref: step.ref });
        }
      }
    }
  }
  return { targets, invalid };
}

/** Each manifest's text with its targets pinned to the digests `answers` hold (unchanged text where none apply). */
export function pinnedTexts(
  manifests: readonly ParsedManifest[],
  targets: readonly PinTarget[],
  answers: ReadonlyMap<string, ResolvedImage | RegistryError>,
  config: Pick<Config, 'mutate'>,
): readonly string[] {
  return manifests.map((manifest, m) => {
    const edits: ImageEdit[] = [];
    for (const target of targets) {
      const answer = answers.get(target.ref.original);
      if (target.manifest !== m || answer === undefined || answer instanceof Error) continue;
      edits.push({ document: target.document, pointer: target.pointer, value: formatPinned(target.ref, answer.digest, config.mutate.output) });
    }
    return edits.length === 0 ? manifest.source.text : applyImageEdits(manifest, edits);
  });
}
