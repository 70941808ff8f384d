// Where images live in each Kubernetes kind: list image fields and build patches (pure).
import type { ImageField, ReplaceOperation } from './types.ts';

export type { ImageField, ImageSlot, ReplaceOperation } from './types.ts';

/** JSON Pointer of the pod spec for `kind`, or undefined for an unsupported kind. */
export function podSpecPointer(kind: string): string | undefined {
  throw new Error(`not implemented: ${kind}`);
}

/** Every image field of `object` (containers, initContainers, ephemeralContainers, image volumes). */
export function listImages(kind: string, object: unknown): readonly ImageField[] {
  throw new Error(`not implemented: ${kind} ${typeof object}`);
}

/** Reads the value at an RFC 6901 pointer; undefined when the path does not exist. */
export function getAtPointer(object: unknown, pointer: string): unknown {
  throw new Error(`not implemented: ${typeof object} ${pointer}`);
}

/** A `replace` operation for an image field. */
export function replaceImage(path: string, value: string): ReplaceOperation {
  return { op: 'replace', path, value };
}
