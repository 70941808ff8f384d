// Request economy: how many registry and token requests admissions cost, counted at the registry and the token issuer.
import { startRegistry } from '../test/support/registry.ts';
import type { ManifestRequest, TestRegistry } from '../test/support/registry.ts';
import { Budget, describeMachine, envNumber, forEachLimited, printTable, runBenchmark, writeResult } from './lib/bench.ts';
import { startTagpin } from './lib/processes.ts';
import type { TagpinProcess } from './lib/processes.ts';
import { difference, sumBy } from './lib/prometheus.ts';
import { ReviewClient, patchedImages, podReview } from './lib/reviews.ts';

const ADMISSIONS = envNumber('BENCH_ADMISSIONS', 1000);
const DISTINCT = 5;
const CONCURRENT = envNumber('BENCH_CONCURRENT', 100);

/** What one phase cost at the registry, at the token issuer, and by tagpin's own counters. */
interface PhaseCount {
  readonly admissions: number;
  /** Manifest requests by "METHOD STATUS" from the registry's access log. */
  readonly manifestRequests: Readonly<Record<string, number>>;
  /** Manifest requests that answered a digest (HEAD or GET with 200). */
  readonly digestAnswers: number;
  readonly headRequests: number;
  readonly getRequests: number;
  readonly tokenRequests: number;
  /** tagpin_resolve_cache_total by result, over the phase. */
  readonly cache: Readonly<Record<string, number>>;
  /** tagpin_registry_requests_total by "METHOD STATUS", over the phase (registry and token server). */
  readonly tagpinRegistryRequests: Readonly<Record<string, number>>;
}

await runBenchmark('economy', async () => {
  const startedAt = new Date();
  const machine = describeMachine();
  const budget = new Budget('economy', 10 * 60_000);
  const cleanups: Array<() => Promise<void>> = [];
  try {
    // Bearer tokens, as Docker Hub, GHCR and most registries use; anonymous pulls are allowed under public/.
    const registry = await startRegistry('token');
    cleanups.push(() => registry.stop());
    const caFile = registry.pki?.caFile;
    if (caFile === undefined) throw new Error('the token registry has no CA file');
    const digests = new Map<string, string>();
    const repositories = [...Array.from({ length: DISTINCT }, (_, i) => `public/econ-${String(i)}`), 'public/coalesce'];
    for (const [i, repository] of repositories.entries()) {
      const kind = i % 2 === 0 ? 'oci-index' : 'docker-manifest';
      digests.set(`${registry.host}/${repository}:v1`, await registry.push(repository, 'v1', kind));
    }
    // Loopback addresses are refused unless listed: the registry and its token realm are both on 127.0.0.1.
    const tagpin = await startTagpin({ registries: { caFile, allow: ['127.0.0.1'] }, cache: { ttlSeconds: 300 } });
    cleanups.push(() => tagpin.stop());

    const check = (image: string, pinned: ReadonlyMap<string, string>): void => {
      const value = pinned.get('/spec/containers/0/image');
      if (value !== `${image}@${digests.get(image) ?? '?'}`) throw new Error(`${image} was pinned as ${value ?? 'nothing'}, not to the registry's digest`);
    };

    // Phase 1: many admissions over few images, well within the TTL.
    const warmClient = new ReviewClient(tagpin.url, 16);
    cleanups.push(() => warmClient.close());
    const images = repositories.slice(0, DISTINCT).map((repository) => `${registry.host}/${repository}:v1`);
    const within = await measure(registry, tagpin, ADMISSIONS, async () => {
      const order = Array.from({ length: ADMISSIONS }, (_, i) => images[i % DISTINCT] ?? '');
      await forEachLimited(order, 16, budget, async (image) => {
        check(image, patchedImages((await warmClient.mutate(podReview([image]))).answer));
      });
    });

    // Phase 2: a burst of admissions of one image nobody has looked up yet, on connections opened beforehand.
    const burstClient = new ReviewClient(tagpin.url, CONCURRENT);
    cleanups.push(() => burstClient.close());
    await burstClient.warm(CONCURRENT);
    const burstImage = `${registry.host}/public/coalesce:v1`;
    const burst = await measure(registry, tagpin, CONCURRENT, async () => {
      budget.check('the burst');
      const answers = await Promise.all(Array.from({ length: CONCURRENT }, () => burstClient.mutate(podReview([burstImage]))));
      for (const answer of answers) check(burstImage, patchedImages(answer.answer));
    });

    const rows = [
      [`${String(ADMISSIONS)} admissions, ${String(DISTINCT)} images, within TTL`, within] as const,
      [`${String(CONCURRENT)} concurrent cold admissions, 1 image`, burst] as const,
    ];
    printTable(
      'Request economy (counted at the registry access log and the token issuer)',
      ['phase', 'digest answers', 'HEAD', 'GET', '401 challenges', 'token requests', 'tagpin cache hit/coalesced/miss'],
      rows.map(([name, c]) => [
        name,
        c.digestAnswers,
        c.headRequests,
        c.getRequests,
        (c.manifestRequests['HEAD 401'] ?? 0) + (c.manifestRequests['GET 401'] ?? 0),
        c.tokenRequests,
        `${String(c.cache['hit'] ?? 0)}/${String(c.cache['coalesced'] ?? 0)}/${String(c.cache['miss'] ?? 0)}`,
      ]),
    );
    const targets = {
      withinTtl: { target: `${String(DISTINCT)} manifest requests answering a digest`, value: within.digestAnswers, met: within.digestAnswers === DISTINCT },
      burst: { target: '1 manifest request answering a digest', value: burst.digestAnswers, met: burst.digestAnswers === 1 },
      noGet: { target: 'no GET (Docker Hub counts GETs as pulls)', value: within.getRequests + burst.getRequests, met: within.getRequests + burst.getRequests === 0 },
    };
    printTable('Targets', ['target', 'wanted', 'measured', 'met'], Object.entries(targets).map(([name, t]) => [name, t.target, t.value, t.met ? 'yes' : 'NO']));
    await writeResult('economy', startedAt, machine, {
      settings: { admissions: ADMISSIONS, distinctImages: DISTINCT, concurrent: CONCURRENT, registry: 'token (Bearer), anonymous pull', cacheTtlSeconds: 300 },
      withinTtl: within,
      burst,
      targets,
    });
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
});

/** Runs `phase` and counts what it cost, as differences of the registry log, the issuer log and tagpin's metrics. */
async function measure(registry: TestRegistry, tagpin: TagpinProcess, admissions: number, phase: () => Promise<void>): Promise<PhaseCount> {
  const manifestsBefore = registry.manifestRequests().length;
  const tokensBefore = registry.tokenRequests().length;
  const metricsBefore = await tagpin.metrics();
  await phase();
  const manifests: readonly ManifestRequest[] = registry.manifestRequests().slice(manifestsBefore);
  const tokens = registry.tokenRequests().length - tokensBefore;
  const metricsAfter = await tagpin.metrics();
  const byMethodStatus: Record<string, number> = {};
  for (const request of manifests) {
    const key = `${request.method} ${String(request.status)}`;
    byMethodStatus[key] = (byMethodStatus[key] ?? 0) + 1;
  }
  return {
    admissions,
    manifestRequests: byMethodStatus,
    digestAnswers: manifests.filter((r) => r.status === 200).length,
    headRequests: manifests.filter((r) => r.method === 'HEAD').length,
    getRequests: manifests.filter((r) => r.method === 'GET').length,
    tokenRequests: tokens,
    cache: difference(sumBy(metricsAfter, 'tagpin_resolve_cache_total', ['result']), sumBy(metricsBefore, 'tagpin_resolve_cache_total', ['result'])),
    tagpinRegistryRequests: difference(
      sumBy(metricsAfter, 'tagpin_registry_requests_total', ['method', 'status']),
      sumBy(metricsBefore, 'tagpin_registry_requests_total', ['method', 'status']),
    ),
  };
}
