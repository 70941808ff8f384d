// What already runs: every image field of every listed workload, with its state against the policy and the registry.
import { resolveAll } from '../admission/index.ts';
import type { Keyring, PullCredentialSource, Resolver } from '../admission/index.ts';
import type { Config } from '../config/index.ts';
import { mergeKeyrings } from '../credentials/index.ts';
import { isNamespaceExcluded } from '../policy/index.ts';
import { forEachBounded } from '../pool/index.ts';
import type { ImageReference } from '../reference/index.ts';
import { collectWorkloads } from './collect.ts';
import type { WorkloadReader } from './collect.ts';
import { judgeLookups, needsDigestLookup, planImage } from './judge.ts';
import type { Answer, Plan } from './judge.ts';
import type { WorkloadLister, WorkloadResource } from './ports.ts';
import type { Inventory, InventoryImage, Workload } from './types.ts';

export type * from './ports.ts';
export type { InventoryImage, Inventory, Workload } from './types.ts';
export { FAILING_STATES, ImageState } from './types.ts';
export type { WorkloadReader } from './collect.ts';

/** What `takeInventory` works with. */
export interface InventoryOptions {
  readonly lister: WorkloadLister;
  /** Resources to list, in order: the built-in table plus any configured custom kinds. */
  readonly resources: readonly WorkloadResource[];
  readonly reader: WorkloadReader;
  /** One namespace, or undefined for all of them. */
  readonly namespace: string | undefined;
  readonly resolver: Resolver;
  /** The configured credentials (docker config, provider plugins), after each pod's own. */
  readonly keyring: Keyring;
  /** Pull secrets of each pod spec, read as the webhook reads them. */
  readonly credentials: PullCredentialSource;
  readonly config: Pick<Config, 'validate' | 'exclude' | 'resolve'>;
  /** Sets of credentials worked on at once; each runs up to `LOOKUPS_PER_SET` lookups. @default 4 */
  readonly parallelSets?: number;
  readonly signal?: AbortSignal;
}

/** Lookups in flight per set of credentials; with `parallelSets` 4, at most 16 in all. */
const LOOKUPS_PER_SET = 4;

/** Image fields that share pull credentials: one namespace, service account and list of pull secrets. */
interface CredentialSet {
  readonly namespace: string;
  readonly serviceAccountName: string | undefined;
  readonly imagePullSecrets: readonly string[];
  readonly items: Array<{ readonly index: number; readonly plan: Extract<Plan, { settled: false }> }>;
}

/**
 * Lists the workloads, judges each image field: the policy first (`violation`, `unpinned`), then
 * the registry for images with a digest — one HEAD per distinct tag and per distinct digest that needs
 * asking, per set of pull credentials, cached and coalesced by the resolver, at most 16 in flight.
 * @throws InputError when a resource cannot be listed
 */
export async function takeInventory(options: InventoryOptions): Promise<Inventory> {
  const signal = options.signal ?? new AbortController().signal;
  const collected = await collectWorkloads(options.lister, options.resources, options.namespace, options.reader, signal);
  const workloads = [...collected.workloads].sort(byPlace);
  const fields: Array<{ readonly workload: Workload; readonly path: string; readonly value: unknown; readonly plan: Plan }> = [];
  const sets = new Map<string, CredentialSet>();
  for (const workload of workloads) {
    const namespaceExcluded = isNamespaceExcluded(workload.namespace, options.config.exclude) ? `namespace ${workload.namespace} is excluded` : undefined;
    for (const field of workload.fields) {
      const plan = planImage(field.value, options.config, namespaceExcluded);
      const index = fields.push({ workload, path: field.path, value: field.value, plan }) - 1;
      if (plan.settled) continue;
      const { serviceAccountName, imagePullSecrets } = workload.pod;
      const key = JSON.stringify([workload.namespace, serviceAccountName ?? 'default', imagePullSecrets]);
      let set = sets.get(key);
      if (set === undefined) {
        set = { namespace: workload.namespace, serviceAccountName, imagePullSecrets, items: [] };
        sets.set(key, set);
      }
      set.items.push({ index, plan });
    }
  }

  const judged = new Map<number, ReturnType<typeof judgeLookups>>();
  const warnings = new Set(collected.warnings);
  let lookups = 0;
  await forEachBounded([...sets.values()], options.parallelSets ?? 4, async (set) => {
    const { timeoutMs } = options.config.resolve;
    const found = await options.credentials.keyringFor({
      namespace: set.namespace,
      serviceAccountName: set.serviceAccountName,
      imagePullSecrets: set.imagePullSecrets,
      deadline: Date.now() + timeoutMs,
    });
    for (const warning of found.warnings) warnings.add(warning);
    // The pod's own credentials first: they are the ones kubelet would use for this pod.
    const keyring = mergeKeyrings(found.keyring, options.keyring);
    const batch = { deadline: Number.POSITIVE_INFINITY, perLookupMs: timeoutMs, concurrency: LOOKUPS_PER_SET, keyring, signal };
    const first = set.items.map(({ plan }) => plan.byTag ?? plan.byDigest);
    const tagAnswers = await resolveAll(options.resolver, first, batch);
    lookups += distinct(first);
    const second = set.items.filter(({ plan }) => plan.byTag !== undefined && needsDigestLookup(plan, tagAnswers.get(plan.byTag.original)));
    const digestRefs = second.map(({ plan }) => plan.byDigest);
    const digestAnswers = await resolveAll(options.resolver, digestRefs, batch);
    lookups += distinct(digestRefs);
    for (const { index, plan } of set.items) {
      const byTag: Answer | undefined = plan.byTag === undefined ? undefined : tagAnswers.get(plan.byTag.original);
      const byDigest: Answer | undefined = plan.byTag === undefined ? tagAnswers.get(plan.byDigest.original) : digestAnswers.get(plan.byDigest.original);
      judged.set(index, judgeLookups(plan, byTag, byDigest));
    }
  });

  const images = fields.map(({ workload, path, value, plan }, index): InventoryImage => {
    const verdict = plan.settled ? { state: plan.state, tagDigest: null, reason: plan.reason } : judged.get(index);
    return {
      namespace: workload.namespace,
      apiVersion: workload.apiVersion,
      kind: workload.kind,
      name: workload.name,
      uid: workload.uid,
      path,
      image: typeof value === 'string' ? value : null,
      state: verdict?.state ?? 'failed',
      digest: plan.ref?.digest ?? null,
      tagDigest: verdict?.tagDigest ?? null,
      reason: verdict?.reason ?? (verdict === undefined ? 'not looked up' : null),
      excluded: plan.excluded,
    };
  });
  return { images, workloads: workloads.length, listed: collected.listed, lookups, warnings: [...warnings] };
}

/** A stable order whatever order the parallel lists answered in: namespace, kind, name. */
function byPlace(a: Workload, b: Workload): number {
  return a.namespace.localeCompare(b.namespace) || a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name);
}

function distinct(refs: readonly ImageReference[]): number {
  return new Set(refs.map((ref) => ref.original)).size;
}
