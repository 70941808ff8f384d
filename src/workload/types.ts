// Shapes of the kinds tagpin walks and of the image fields found in their objects.

/** Where an image field sits: a slot of a pod spec, or a field an image pattern names. */
export const ImageSlot = {
  container: 'containers',
  initContainer: 'initContainers',
  ephemeralContainer: 'ephemeralContainers',
  volume: 'volumes',
  /** A field found by an `images` pattern of a custom kind. */
  pattern: 'pattern',
} as const;
export type ImageSlot = (typeof ImageSlot)[keyof typeof ImageSlot];

/** One image field of an object. */
export interface ImageField {
  /** RFC 6901 JSON Pointer of the string, e.g. `/spec/template/spec/containers/0/image`. */
  readonly path: string;
  /** The value found there; not necessarily a string (bad input is reported, not thrown). */
  readonly value: unknown;
  readonly slot: ImageSlot;
  /** Container or volume name (for a pattern field, the `name` beside it), when present. */
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

/**
 * A custom resource kind, as `workloads.customKinds` describes it (docs/contract.md, "Custom kinds").
 * Pointer patterns are RFC 6901 JSON Pointers in which a `*` segment stands for every index of an array.
 */
export interface CustomKind {
  /** API group of the CustomResourceDefinition, e.g. `argoproj.io`. */
  readonly apiGroup: string;
  /** `kind` of its objects, e.g. `Rollout`. */
  readonly kind: string;
  /** Plural resource name, e.g. `rollouts`: what webhook rules match. */
  readonly resource: string;
  /** Versions read; `['*']` for every version. @default ['*'] */
  readonly versions: readonly string[];
  /** Patterns of pod specs, walked like a built-in kind's (containers, volumes, pull credentials). @default [] */
  readonly podSpecs: readonly string[];
  /** Patterns of image strings outside any pod spec. @default [] */
  readonly images: readonly string[];
}

/** One kind tagpin walks: a built-in one or a custom one. */
export interface WorkloadKind extends CustomKind {
  /** True for the nine kinds of Kubernetes itself. */
  readonly builtIn: boolean;
}

/** What `workloads` in the config says: presets by name and kinds written out. */
export interface WorkloadsSpec {
  readonly presets: readonly string[];
  readonly customKinds: readonly CustomKind[];
}
