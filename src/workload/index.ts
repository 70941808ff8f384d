// Where images live in each Kubernetes kind: list image fields and build patches (pure).
import { isRecord } from '../json/index.ts';
import { ImageSlot } from './types.ts';
import type { ImageField, PodSpecInfo, ReplaceOperation } from './types.ts';

export type { ImageField, PodSpecInfo, ReplaceOperation } from './types.ts';
export { ImageSlot } from './types.ts';

/** Pod spec location per kind (docs/contract.md, "Where images are"): the one table of the kinds tagpin walks. */
const POD_SPEC_POINTERS = {
  Pod: '/spec',
  PodTemplate: '/template/spec',
  ReplicationController: '/spec/template/spec',
  ReplicaSet: '/spec/template/spec',
  Deployment: '/spec/template/spec',
  StatefulSet: '/spec/template/spec',
  DaemonSet: '/spec/template/spec',
  Job: '/spec/template/spec',
  CronJob: '/spec/jobTemplate/spec/template/spec',
} as const satisfies Readonly<Record<string, string>>;

/** A kind whose pod template tagpin knows how to walk. */
export type SupportedKind = keyof typeof POD_SPEC_POINTERS;

/** Every kind of the table, in its order. */
export const SUPPORTED_KINDS = Object.keys(POD_SPEC_POINTERS) as readonly SupportedKind[];

/** Whether tagpin walks objects of `kind`. */
export function isSupportedKind(kind: string): kind is SupportedKind {
  return Object.hasOwn(POD_SPEC_POINTERS, kind);
}

const CONTAINER_SLOTS = [ImageSlot.container, ImageSlot.initContainer, ImageSlot.ephemeralContainer] as const;

/** JSON Pointer of the pod spec for `kind`, or undefined for an unsupported kind. */
export function podSpecPointer(kind: string): string | undefined {
  return isSupportedKind(kind) ? POD_SPEC_POINTERS[kind] : undefined;
}

/**
 * Every image field of `object`: containers, initContainers, ephemeralContainers (`…/N/image`) and
 * image volumes (`…/volumes/N/image/reference`), in that order. A container without an `image` key is
 * skipped (templates may leave it to be filled later); any other value, string or not, is listed so
 * policy can report it. Unknown kinds and odd shapes yield fewer fields, never an exception.
 */
export function listImages(kind: string, object: unknown): readonly ImageField[] {
  const base = podSpecPointer(kind);
  if (base === undefined) return [];
  const spec = getAtPointer(object, base);
  if (!isRecord(spec)) return [];
  const fields: ImageField[] = [];
  for (const slot of CONTAINER_SLOTS) {
    forEachRecord(spec[slot], (container, i) => {
      if (!Object.hasOwn(container, 'image') || container.image === undefined) return;
      fields.push(field(`${base}/${slot}/${String(i)}/image`, container.image, slot, container.name));
    });
  }
  forEachRecord(spec[ImageSlot.volume], (volume, i) => {
    const source = volume.image;
    if (!isRecord(source) || !Object.hasOwn(source, 'reference') || source.reference === undefined) return;
    fields.push(field(`${base}/volumes/${String(i)}/image/reference`, source.reference, ImageSlot.volume, volume.name));
  });
  return fields;
}

/** The pod spec's service account and pull-secret names; empty for unknown kinds and bad shapes. */
export function podSpecOf(kind: string, object: unknown): PodSpecInfo {
  const base = podSpecPointer(kind);
  const spec = base === undefined ? undefined : getAtPointer(object, base);
  if (!isRecord(spec)) return { serviceAccountName: undefined, imagePullSecrets: [] };
  // Kubernetes still honours the deprecated `serviceAccount` when `serviceAccountName` is unset.
  const serviceAccountName = nonEmptyString(spec.serviceAccountName) ?? nonEmptyString(spec.serviceAccount);
  const imagePullSecrets: string[] = [];
  forEachRecord(spec.imagePullSecrets, (ref) => {
    const name = nonEmptyString(ref.name);
    if (name !== undefined && !imagePullSecrets.includes(name)) imagePullSecrets.push(name);
  });
  return { serviceAccountName, imagePullSecrets };
}

/**
 * Reads the value at an RFC 6901 pointer; undefined when the path does not exist or the pointer is
 * malformed. Only own properties are followed, so `/__proto__` or `/constructor` find nothing.
 */
export function getAtPointer(object: unknown, pointer: string): unknown {
  if (pointer === '') return object;
  if (!pointer.startsWith('/')) return undefined;
  let current: unknown = object;
  for (const token of pointer.slice(1).split('/')) {
    const key = unescapeToken(token);
    if (Array.isArray(current)) {
      if (!/^(?:0|[1-9][0-9]*)$/.test(key)) return undefined;
      current = current[Number(key)];
    } else if (isRecord(current)) {
      current = Object.hasOwn(current, key) ? current[key] : undefined;
    } else {
      return undefined;
    }
    if (current === undefined) return undefined;
  }
  return current;
}

/** Escapes one reference token for a JSON Pointer (`~` → `~0`, `/` → `~1`). */
export function escapePointerToken(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** A `replace` operation for an image field. */
export function replaceImage(path: string, value: string): ReplaceOperation {
  return { op: 'replace', path, value };
}

function unescapeToken(token: string): string {
  // Order matters: `~01` must become `~1`, not `/`.
  return token.replaceAll('~1', '/').replaceAll('~0', '~');
}

function field(path: string, value: unknown, slot: ImageSlot, name: unknown): ImageField {
  return typeof name === 'string' && name !== '' ? { path, value, slot, name } : { path, value, slot };
}

function forEachRecord(list: unknown, visit: (item: Record<string, unknown>, index: number) => void): void {
  if (!Array.isArray(list)) return;
  list.forEach((item: unknown, index) => {
    if (isRecord(item)) visit(item, index);
  });
}


function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
