// Shapes of the image fields found in a Kubernetes object.

/** Where an image field sits in the pod spec. */
export const ImageSlot = {
  container: 'containers',
  initContainer: 'initContainers',
  ephemeralContainer: 'ephemeralContainers',
  volume: 'volumes',
} as const;
export type ImageSlot = (typeof ImageSlot)[keyof typeof ImageSlot];

/** One image field of an object. */
export interface ImageField {
  /** RFC 6901 JSON Pointer of the string, e.g. `/spec/template/spec/containers/0/image`. */
  readonly path: string;
  /** The value found there; not necessarily a string (bad input is reported, not thrown). */
  readonly value: unknown;
  readonly slot: ImageSlot;
  /** Container or volume name, when present. */
  readonly name?: string;
}

/** One RFC 6902 operation; tagpin only ever emits `replace` on image fields. */
export interface ReplaceOperation {
  readonly op: 'replace';
  readonly path: string;
  readonly value: string;
}

/** What the admission core needs from a pod spec to find its pull credentials. */
export interface PodSpecInfo {
  /** `serviceAccountName` (or the deprecated `serviceAccount`); undefined when absent, meaning `default`. */
  readonly serviceAccountName: string | undefined;
  /** Names from `imagePullSecrets[].name`, in order, without duplicates. */
  readonly imagePullSecrets: readonly string[];
}
