// Lists every workload of every resource in the table, then folds owned objects into their top owner.
import { InputError } from '../errors/index.ts';
import { isRecord } from '../json/index.ts';
import type { ImageField, PodSpecInfo } from '../workload/index.ts';
import type { ListOutcome, WorkloadLister, WorkloadResource } from './ports.ts';
import type { Workload } from './types.ts';

/** How the inventory reads image fields and pod specs of a kind (the workload table, custom kinds included). */
export interface WorkloadReader {
  imagesOf(kind: string, object: unknown): readonly ImageField[];
  podSpecOf(kind: string, object: unknown): PodSpecInfo;
}

/** What listing found: the workloads to report, how many objects there were, and kinds that were skipped. */
export interface Collected {
  readonly workloads: readonly Workload[];
  readonly listed: number;
  readonly warnings: readonly string[];
}

/**
 * Lists each resource (one paged LIST per resource, in `namespace` or cluster-wide) and keeps the
 * workloads no listed object controls: a Pod of a ReplicaSet of a Deployment is reported as the
 * Deployment, once, like Kyverno's background scan of pod controllers. An object whose controller
 * was not listed (an unsupported kind, or one deleted meanwhile) is reported itself.
 * @throws InputError naming the resource and the cause when one cannot be listed (403, API error)
 */
export async function collectWorkloads(
  lister: WorkloadLister,
  resources: readonly WorkloadResource[],
  namespace: string | undefined,
  reader: WorkloadReader,
  signal: AbortSignal,
): Promise<Collected> {
  const all: Workload[] = [];
  const warnings: string[] = [];
  const outcomes = await Promise.all(
    resources.map((resource) => lister.list(resource, namespace, (object) => {
      const workload = reduce(resource, object, reader);
      if (workload !== undefined) all.push(workload);
    }, signal)),
  );
  for (const [index, outcome] of outcomes.entries()) {
    const resource = resources[index];
    if (resource === undefined || outcome.status === 'found') continue;
    if (outcome.status === 'not-found') {
      warnings.push(`${describeResource(resource)} is not served by this API server; ${resource.kind} objects skipped`);
      continue;
    }
    throw new InputError(`cannot list ${describeResource(resource)}${scope(namespace)}: ${problem(outcome, resource, namespace)}`);
  }
  const uids = new Set(all.map((w) => w.uid).filter((uid) => uid !== ''));
  const workloads = all.filter((w) => !w.controllers.some((uid) => uids.has(uid)));
  return { workloads, listed: all.length, warnings };
}

function reduce({ kind, apiVersion }: WorkloadResource, object: unknown, reader: WorkloadReader): Workload | undefined {
  if (!isRecord(object) || !isRecord(object.metadata)) return undefined;
  const { metadata } = object;
  const controllers: string[] = [];
  if (Array.isArray(metadata.ownerReferences)) {
    for (const owner of metadata.ownerReferences) {
      if (isRecord(owner) && owner.controller === true && typeof owner.uid === 'string') controllers.push(owner.uid);
    }
  }
  return {
    apiVersion,
    kind,
    namespace: text(metadata.namespace),
    name: text(metadata.name),
    uid: text(metadata.uid),
    controllers,
    fields: reader.imagesOf(kind, object),
    pod: reader.podSpecOf(kind, object),
  };
}

/** `deployments.apps`, `pods` (kubectl's spelling, which RBAC rules use too). */
function describeResource(resource: WorkloadResource): string {
  const slash = resource.apiVersion.indexOf('/');
  return slash < 0 ? resource.plural : `${resource.plural}.${resource.apiVersion.slice(0, slash)}`;
}

function scope(namespace: string | undefined): string {
  return namespace === undefined ? ' in all namespaces' : ` in namespace ${namespace}`;
}

function problem(outcome: Exclude<ListOutcome, { status: 'found' | 'not-found' }>, resource: WorkloadResource, namespace: string | undefined): string {
  switch (outcome.status) {
    case 'forbidden':
      return `403 Forbidden (the user needs list on ${describeResource(resource)}${namespace === undefined ? ' cluster-wide' : ''})`;
    case 'failed':
      return `Kubernetes API: ${outcome.reason}`;
    case 'timeout':
      return 'Kubernetes API too slow';
  }
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
