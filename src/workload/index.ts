// Where images live in each kind tagpin walks: list image fields and build patches (pure).
import { isRecord } from '../json/index.ts';
import { BUILT_IN_KINDS, customKindsOf, isSupportedKind } from './kinds.ts';
import { compilePattern, getAtPointer, matchPattern } from './pointer.ts';
import type { PointerPattern } from './pointer.ts';
import { ImageSlot } from './types.ts';
import type { ImageField, PodSpecInfo, ReplaceOperation, WorkloadKind, WorkloadsSpec } from './types.ts';

export type { CustomKind, ImageField, PodSpecInfo, ReplaceOperation, WorkloadKind, WorkloadsSpec } from './types.ts';
export { ImageSlot } from './types.ts';
export { BUILT_IN_KINDS, PRESETS, PRESET_NAMES, SUPPORTED_KINDS, customKindsOf, isPresetName, isSupportedKind, podSpecPointer } from './kinds.ts';
export type { PresetName, SupportedKind } from './kinds.ts';
export { escapePointerToken, getAtPointer, pointerPatternProblem } from './pointer.ts';

/** The kinds one configuration walks, looked up by API group, version and kind. */
export interface WorkloadKinds {
  /** Every kind: the built-in ones in table order, then the custom ones in config order. */
  readonly all: readonly WorkloadKind[];
  /**
   * The kind of an object of `kind` in `group` at `version` (its apiVersion taken apart, or an
   * AdmissionReview's `request.kind`); undefined for a kind tagpin does not walk. An undefined group
   * (an object without apiVersion) finds built-in kinds by name only.
   */
  find(group: string | undefined, version: string | undefined, kind: string): WorkloadKind | undefined;
  /** The kind of a manifest object, from its own `apiVersion` and `kind`. */
  ofObject(object: unknown): WorkloadKind | undefined;
}

const byWorkloads = new WeakMap<WorkloadsSpec, WorkloadKinds>();

/**
 * The built-in kinds plus those `workloads` adds (config.workloads: presets, then customKinds);
 * only the built-in ones without it. Built once per (frozen) settings object and then reused.
 */
export function workloadKinds(workloads?: WorkloadsSpec): WorkloadKinds {
  if (workloads === undefined) return BUILT_IN_ONLY;
  let kinds = byWorkloads.get(workloads);
  if (kinds === undefined) {
    kinds = buildKinds(customKindsOf(workloads).map((custom) => Object.freeze({ ...custom, builtIn: false })));
    byWorkloads.set(workloads, kinds);
  }
  return kinds;
}

const BUILT_IN_ONLY = buildKinds([]);

function buildKinds(custom: readonly WorkloadKind[]): WorkloadKinds {
  const builtIn = new Map(BUILT_IN_KINDS.map((k) => [k.kind, k]));
  const byGroupKind = new Map(custom.map((k) => [`${k.apiGroup}/${k.kind}`, k]));
  const find = (group: string | undefined, version: string | undefined, kind: string): WorkloadKind | undefined => {
    const known = builtIn.get(kind);
    if (known !== undefined && (group === undefined || group === known.apiGroup)) return known;
    if (group === undefined) return undefined;
    const found = byGroupKind.get(`${group}/${kind}`);
    if (found === undefined) return undefined;
    return version === undefined || found.versions.includes('*') || found.versions.includes(version) ? found : undefined;
  };
  return {
    all: Object.freeze([...BUILT_IN_KINDS, ...custom]),
    find,
    ofObject(object) {
      if (!isRecord(object) || typeof object.kind !== 'string') return undefined;
      if (typeof object.apiVersion !== 'string') return find(undefined, undefined, object.kind);
      const { group, version } = splitApiVersion(object.apiVersion);
      return find(group, version, object.kind);
    },
  };
}

/** `apps/v1` → group `apps`, version `v1`; `v1` → the core group `''`. */
export function splitApiVersion(apiVersion: string): { readonly group: string; readonly version: string } {
  const slash = apiVersion.lastIndexOf('/');
  return slash === -1 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

const CONTAINER_SLOTS = [ImageSlot.container, ImageSlot.initContainer, ImageSlot.ephemeralContainer] as const;

/**
 * Every image field of `object`, an object of `kind` (a WorkloadKind, or the name of a built-in kind).
 * For each pod spec: containers, initContainers, ephemeralContainers (`…/N/image`) and image volumes
 * (`…/volumes/N/image/reference`), in that order; then the fields of the kind's `images` patterns.
 * A path found twice is listed once. A container without an `image` key is skipped (templates may
 * leave it to be filled later); any other value, string or not, is listed so policy can report it.
 * Unknown kinds and odd shapes yield fewer fields, never an exception.
 */
export function listImages(kind: string | WorkloadKind, object: unknown): readonly ImageField[] {
  const patterns = patternsOf(kind);
  if (patterns === undefined) return [];
  const fields: ImageField[] = [];
  const seen = new Set<string>();
  const add = (found: ImageField): void => {
    if (seen.has(found.path)) return;
    seen.add(found.path);
    fields.push(found);
  };
  for (const pattern of patterns.podSpecs) {
    for (const { pointer, value } of matchPattern(object, pattern)) if (isRecord(value)) podSpecFields(pointer, value, add);
  }
  for (const pattern of patterns.images) {
    for (const { pointer, value } of matchPattern(object, pattern)) {
      const beside = getAtPointer(object, pointer.slice(0, pointer.lastIndexOf('/')));
      add(field(pointer, value, ImageSlot.pattern, isRecord(beside) ? beside.name : undefined));
    }
  }
  return fields;
}

/**
 * The service account and pull-secret names of the object's pod specs: the first `serviceAccountName`
 * set, and every `imagePullSecrets` name in order; empty for unknown kinds, bad shapes and kinds
 * without pod specs (their images are looked up with the namespace's `default` service account).
 */
export function podSpecOf(kind: string | WorkloadKind, object: unknown): PodSpecInfo {
  let serviceAccountName: string | undefined;
  const imagePullSecrets: string[] = [];
  for (const pattern of patternsOf(kind)?.podSpecs ?? []) {
    for (const { value: spec } of matchPattern(object, pattern)) {
      if (!isRecord(spec)) continue;
      // Kubernetes still honours the deprecated `serviceAccount` when `serviceAccountName` is unset.
      serviceAccountName ??= nonEmptyString(spec.serviceAccountName) ?? nonEmptyString(spec.serviceAccount);
      forEachRecord(spec.imagePullSecrets, (ref) => {
        const name = nonEmptyString(ref.name);
        if (name !== undefined && !imagePullSecrets.includes(name)) imagePullSecrets.push(name);
      });
    }
  }
  return { serviceAccountName, imagePullSecrets };
}

/** A `replace` operation for an image field. */
/**
 * Image fields and pod spec of listed objects: the kind found by the object's own apiVersion (custom
 * kinds carry it in a LIST), else by its kind name (items of a built-in LIST carry none).
 */
export function objectReader(kinds: WorkloadKinds): {
  imagesOf(kind: string, object: unknown): readonly ImageField[];
  podSpecOf(kind: string, object: unknown): PodSpecInfo;
} {
  return {
    imagesOf: (kind, object) => listImages(kinds.ofObject(object) ?? kind, object),
    podSpecOf: (kind, object) => podSpecOf(kinds.ofObject(object) ?? kind, object),
  };
}

export function replaceImage(path: string, value: string): ReplaceOperation {
  return { op: 'replace', path, value };
}

interface Patterns {
  readonly podSpecs: readonly PointerPattern[];
  readonly images: readonly PointerPattern[];
}

const compiled = new WeakMap<WorkloadKind, Patterns>();

function patternsOf(kind: string | WorkloadKind): Patterns | undefined {
  const workload = typeof kind === 'string' ? (isSupportedKind(kind) ? BUILT_IN_ONLY.find(undefined, undefined, kind) : undefined) : kind;
  if (workload === undefined) return undefined;
  let patterns = compiled.get(workload);
  if (patterns === undefined) {
    patterns = { podSpecs: workload.podSpecs.map(compilePattern), images: workload.images.map(compilePattern) };
    compiled.set(workload, patterns);
  }
  return patterns;
}

function podSpecFields(base: string, spec: Record<string, unknown>, add: (found: ImageField) => void): void {
  for (const slot of CONTAINER_SLOTS) {
    forEachRecord(spec[slot], (container, i) => {
      if (!Object.hasOwn(container, 'image') || container.image === undefined) return;
      add(field(`${base}/${slot}/${String(i)}/image`, container.image, slot, container.name));
    });
  }
  forEachRecord(spec[ImageSlot.volume], (volume, i) => {
    const source = volume.image;
    if (!isRecord(source) || !Object.hasOwn(source, 'reference') || source.reference === undefined) return;
    add(field(`${base}/volumes/${String(i)}/image/reference`, source.reference, ImageSlot.volume, volume.name));
  });
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
