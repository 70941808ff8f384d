// The kinds tagpin walks: Kubernetes' own workloads, the tested presets, and custom kinds from the config.
import type { CustomKind, WorkloadKind, WorkloadsSpec } from './types.ts';

/** Pod spec location per built-in kind (docs/contract.md, "Where images are"): group, resource, pod spec. */
const BUILT_IN = {
  Pod: ['', 'pods', '/spec'],
  PodTemplate: ['', 'podtemplates', '/template/spec'],
  ReplicationController: ['', 'replicationcontrollers', '/spec/template/spec'],
  ReplicaSet: ['apps', 'replicasets', '/spec/template/spec'],
  Deployment: ['apps', 'deployments', '/spec/template/spec'],
  StatefulSet: ['apps', 'statefulsets', '/spec/template/spec'],
  DaemonSet: ['apps', 'daemonsets', '/spec/template/spec'],
  Job: ['batch', 'jobs', '/spec/template/spec'],
  CronJob: ['batch', 'cronjobs', '/spec/jobTemplate/spec/template/spec'],
} as const satisfies Readonly<Record<string, readonly [string, string, string]>>;

/** A kind of Kubernetes itself whose pod template tagpin knows how to walk. */
export type SupportedKind = keyof typeof BUILT_IN;

/** Every built-in kind, in table order. */
export const SUPPORTED_KINDS = Object.keys(BUILT_IN) as readonly SupportedKind[];

/** Whether `kind` names a built-in kind tagpin walks. */
export function isSupportedKind(kind: string): kind is SupportedKind {
  return Object.hasOwn(BUILT_IN, kind);
}

/** JSON Pointer of the pod spec of a built-in kind, or undefined for any other kind. */
export function podSpecPointer(kind: string): string | undefined {
  return isSupportedKind(kind) ? BUILT_IN[kind][2] : undefined;
}

/** The built-in kinds as WorkloadKinds. */
export const BUILT_IN_KINDS: readonly WorkloadKind[] = Object.freeze(
  SUPPORTED_KINDS.map((kind) => {
    const [apiGroup, resource, podSpec] = BUILT_IN[kind];
    return Object.freeze({ apiGroup, kind, resource, versions: ['v1'], podSpecs: [podSpec], images: [], builtIn: true });
  }),
);

/**
 * Tested entries for well-known custom resources, by the name `workloads.presets` uses. The chart
 * renders webhook rules from the same table (charts/tagpin/templates/_helpers.tpl, "tagpin.presets";
 * a test holds the two together).
 */
const PRESET_TABLE = {
  'argo-rollouts': [
    { apiGroup: 'argoproj.io', kind: 'Rollout', resource: 'rollouts', versions: ['v1alpha1'], podSpecs: ['/spec/template/spec'], images: [] },
  ],
  'knative-serving': [
    { apiGroup: 'serving.knative.dev', kind: 'Service', resource: 'services', versions: ['v1'], podSpecs: ['/spec/template/spec'], images: [] },
  ],
} as const satisfies Readonly<Record<string, readonly CustomKind[]>>;

/** A name `workloads.presets` accepts. */
export type PresetName = keyof typeof PRESET_TABLE;

/** The preset table, typed for lookups by name. */
export const PRESETS: Readonly<Record<PresetName, readonly CustomKind[]>> = PRESET_TABLE;

/** Every preset name, in table order. */
export const PRESET_NAMES = Object.keys(PRESET_TABLE) as readonly PresetName[];

/** Whether `name` is a preset. */
export function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(PRESETS, name);
}

/** The kinds a `workloads` setting adds, presets first (in the order named), then `customKinds`. */
export function customKindsOf(workloads: WorkloadsSpec): readonly CustomKind[] {
  const fromPresets = workloads.presets.flatMap((name) => (isPresetName(name) ? PRESETS[name] : []));
  return [...fromPresets, ...workloads.customKinds];
}
