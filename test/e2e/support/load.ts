// Many Deployments applied by parallel kubectl clients, and what the API server measured of tagpin meanwhile.
import type { TestRegistry } from '../../support/registry.ts';
import type { Cluster } from './cluster.ts';
import { histogramBuckets, quantile, sampleCount } from './histogram.ts';
import type { CommandResult, Json, Kubectl } from './kubectl.ts';

/** What a load run did and what the API server's histogram says about tagpin's share of it. */
export interface LoadRun {
  readonly results: readonly CommandResult[];
  /** Deployment name → the image its template was applied with. */
  readonly applied: ReadonlyMap<string, string>;
  /** Registry image → digest the registry reported at push. */
  readonly digests: ReadonlyMap<string, string>;
  readonly figures: {
    readonly deployments: number;
    readonly clients: number;
    /** Calls to tagpin's mutating webhook during the run (Deployments, and the ReplicaSets the controller made meanwhile). */
    readonly admissions: number;
    readonly p50Seconds: number | undefined;
    readonly p99Seconds: number | undefined;
    readonly manifestRequests: number;
    readonly kubernetes: string;
  };
}

/** The histogram the API server keeps per webhook, for tagpin's mutating webhook's allowed CREATEs. */
const METRIC = 'apiserver_admission_webhook_admission_duration_seconds';

async function mutateBuckets(cluster: Cluster, webhook: string): Promise<Map<number, number>> {
  const metrics = await cluster.get('/metrics');
  return histogramBuckets(metrics.text, METRIC, { name: webhook, operation: 'CREATE', type: 'admit', rejected: 'false' });
}

/**
 * Pushes five tags of `repository` (default `load/app`), then applies `deployments` Deployments (replicas 0, one image each,
 * tags in turn) into `namespace` from `clients` kubectl processes at once, each applying its share
 * in one `kubectl apply`. The figures are the histogram's growth over the run.
 */
export async function applyDeployments(
  cluster: Cluster,
  kubectl: Kubectl,
  registry: TestRegistry,
  options: { readonly namespace: string; readonly deployments: number; readonly clients: number; readonly webhook: string; readonly repository?: string },
): Promise<LoadRun> {
  const tags = ['v1', 'v2', 'v3', 'v4', 'v5'];
  // A repository of its own per run: pushing a tag again would move it under tagpin's cache.
  const repository = options.repository ?? 'load/app';
  const digests = new Map<string, string>();
  for (const tag of tags) digests.set(`${registry.host}/${repository}:${tag}`, await registry.push(repository, tag, 'oci-manifest'));
  const applied = new Map<string, string>();
  const deployment = (i: number): Json => {
    const name = `load-${String(i)}`;
    const image = `${registry.host}/${repository}:${tags[i % tags.length] ?? 'v1'}`;
    applied.set(name, image);
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: options.namespace },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image }] } },
      },
    };
  };
  const shares = Array.from({ length: options.clients }, (): Json[] => []);
  for (let i = 0; i < options.deployments; i++) shares[i % options.clients]?.push(deployment(i));
  const lookupsBefore = registry.manifestRequests().length;
  const before = await mutateBuckets(cluster, options.webhook);
  const results = await Promise.all(shares.map((share) => kubectl.apply(share)));
  const after = await mutateBuckets(cluster, options.webhook);
  const grown = new Map([...after].map(([le, count]) => [le, count - (before.get(le) ?? 0)]));
  return {
    results,
    applied,
    digests,
    figures: {
      deployments: options.deployments,
      clients: options.clients,
      admissions: sampleCount(grown),
      p50Seconds: quantile(grown, 0.5),
      p99Seconds: quantile(grown, 0.99),
      manifestRequests: registry.manifestRequests().length - lookupsBefore,
      kubernetes: cluster.binaries.version,
    },
  };
}
