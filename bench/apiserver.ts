// Through the real API server: N Deployments applied by C parallel kubectl clients, and the API server's
// own apiserver_admission_webhook_admission_duration_seconds for tagpin's mutating webhook (p50/p99).
// Usage: node bench/apiserver.ts   (BENCH_RUNS, BENCH_DEPLOYMENTS, BENCH_CLIENTS)
import { startRegistry } from '../test/support/registry.ts';
import { startCluster } from '../test/e2e/support/cluster.ts';
import { kubectlFor } from '../test/e2e/support/kubectl.ts';
import { histogramBuckets, quantile, sampleCount } from '../test/e2e/support/histogram.ts';
import { applyDeployments } from '../test/e2e/support/load.ts';
import { installTagpin } from '../test/e2e/support/tagpin.ts';
import { describeMachine, envNumber, median, printTable, round, runBenchmark, writeResult } from './lib/bench.ts';

const RUNS = envNumber('BENCH_RUNS', 3);
const DEPLOYMENTS = envNumber('BENCH_DEPLOYMENTS', 100);
const CLIENTS = envNumber('BENCH_CLIENTS', 20);

await runBenchmark('apiserver', async () => {
  const startedAt = new Date();
  const machine = describeMachine();
  const cluster = await startCluster();
  const registry = await startRegistry('tls', { pki: cluster.pki });
  const kubectl = kubectlFor(cluster.adminKubeconfig);
  const tagpin = await installTagpin(cluster, kubectl, registry);
  try {
    const runs = [];
    for (let run = 1; run <= RUNS; run++) {
      // A fresh namespace and fresh tags each run: the first lookups of each run are cold.
      const namespace = `load-${String(run)}`;
      await kubectl.createNamespace(namespace);
      const own = async (): Promise<Map<number, number>> =>
        histogramBuckets(await tagpin.server.metrics(), 'tagpin_admission_duration_seconds', { webhook: 'mutate' });
      const ownBefore = await own();
      const result = await applyDeployments(cluster, kubectl, registry, {
        namespace, deployments: DEPLOYMENTS, clients: CLIENTS, webhook: 'mutate.tagpin.tagpin.svc', repository: `${namespace}/app`,
      });
      const refused = result.results.filter((r) => r.status !== 0).length;
      if (refused > 0) throw new Error(`${String(refused)} kubectl clients failed: ${result.results.find((r) => r.status !== 0)?.stderr ?? ''}`);
      const ownAfter = await own();
      const grown = new Map([...ownAfter].map(([le, count]) => [le, count - (ownBefore.get(le) ?? 0)]));
      // tagpin's own view of the same admissions (arrival to answer inside the process), to tell its
      // share from the API server's and the machine's.
      runs.push({ ...result.figures, tagpinP50Seconds: quantile(grown, 0.5), tagpinP99Seconds: quantile(grown, 0.99), tagpinAdmissions: sampleCount(grown) });
    }
    const ms = (s: number | undefined): number => round((s ?? Number.NaN) * 1000, 1);
    printTable(
      `${String(DEPLOYMENTS)} Deployments by ${String(CLIENTS)} parallel kubectl clients, tagpin's mutating webhook as the API server measured it`,
      ['run', 'admissions', 'API server p50 ms', 'API server p99 ms', 'tagpin p50 ms', 'tagpin p99 ms', 'manifest requests'],
      runs.map((r, i) => [i + 1, r.admissions, ms(r.p50Seconds), ms(r.p99Seconds), ms(r.tagpinP50Seconds), ms(r.tagpinP99Seconds), r.manifestRequests]),
    );
    const summary = {
      p50Ms: round(median(runs.map((r) => ms(r.p50Seconds))), 1),
      p99Ms: round(median(runs.map((r) => ms(r.p99Seconds))), 1),
      tagpinP50Ms: round(median(runs.map((r) => ms(r.tagpinP50Seconds))), 1),
      tagpinP99Ms: round(median(runs.map((r) => ms(r.tagpinP99Seconds))), 1),
    };
    process.stdout.write(
      `median of ${String(RUNS)} runs: API server p50 ${String(summary.p50Ms)} ms, p99 ${String(summary.p99Ms)} ms; tagpin's own p50 ${String(summary.tagpinP50Ms)} ms, p99 ${String(summary.tagpinP99Ms)} ms\n`,
    );
    await writeResult('apiserver', startedAt, machine, {
      method: `node bench/apiserver.ts: ${String(DEPLOYMENTS)} Deployments (replicas 0, one image, 5 tags) applied by ${String(CLIENTS)} kubectl processes at once, ${String(RUNS)} runs; histogram growth of apiserver_admission_webhook_admission_duration_seconds{name="mutate.tagpin.tagpin.svc",operation="CREATE",type="admit",rejected="false"} over each run, quantiles interpolated as histogram_quantile does`,
      kubernetes: cluster.binaries.version,
      runs,
      summary,
    });
  } finally {
    await tagpin.uninstall();
    await registry.stop();
    await cluster.stop();
  }
});
