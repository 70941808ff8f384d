// Where the API server serves each kind tagpin walks: the table `tagpin audit` lists from.
import type { SupportedKind, WorkloadKinds } from '../workload/index.ts';
import type { WorkloadResource } from '../inventory/index.ts';

/** API group/version and plural of every supported kind (docs/contract.md, "audit"), in the workload table's order. */
export const BUILTIN_RESOURCES = {
  Pod: { kind: 'Pod', apiVersion: 'v1', plural: 'pods' },
  PodTemplate: { kind: 'PodTemplate', apiVersion: 'v1', plural: 'podtemplates' },
  ReplicationController: { kind: 'ReplicationController', apiVersion: 'v1', plural: 'replicationcontrollers' },
  ReplicaSet: { kind: 'ReplicaSet', apiVersion: 'apps/v1', plural: 'replicasets' },
  Deployment: { kind: 'Deployment', apiVersion: 'apps/v1', plural: 'deployments' },
  StatefulSet: { kind: 'StatefulSet', apiVersion: 'apps/v1', plural: 'statefulsets' },
  DaemonSet: { kind: 'DaemonSet', apiVersion: 'apps/v1', plural: 'daemonsets' },
  Job: { kind: 'Job', apiVersion: 'batch/v1', plural: 'jobs' },
  CronJob: { kind: 'CronJob', apiVersion: 'batch/v1', plural: 'cronjobs' },
} as const satisfies Readonly<Record<SupportedKind, WorkloadResource>>;

/**
 * Every kind `kinds` walks, as the API serves it: the built-in table, then each custom kind at the first
 * version its entry names (one listed only as `*` names no version to list, and is left out).
 */
export function workloadResources(kinds: WorkloadKinds): readonly WorkloadResource[] {
  const custom = kinds.all.flatMap((kind) => {
    const version = kind.versions.find((v) => v !== '*');
    return kind.builtIn || version === undefined ? [] : [{ kind: kind.kind, apiVersion: `${kind.apiGroup}/${version}`, plural: kind.resource }];
  });
  return [...Object.values(BUILTIN_RESOURCES), ...custom];
}
