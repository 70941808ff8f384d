// Memory: tagpin serve's RSS over 100,000 admissions with the cache holding 10,000 entries (10,000 distinct tags).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { startFakeKube } from '../test/support/fake-kube.ts';
import { createPki } from '../test/support/pki.ts';
import { startRegistry } from '../test/support/registry.ts';
import { Budget, describeMachine, envNumber, forEachLimited, printTable, repoRoot, round, runBenchmark, writeResult } from './lib/bench.ts';
import { cleanEnv, startTagpin, tagpinEnv, tagpinNodeArgs } from './lib/processes.ts';
import type { TagpinProcess } from './lib/processes.ts';
import { sumBy } from './lib/prometheus.ts';
import { ReviewClient, podReview } from './lib/reviews.ts';
import { tagManyTimes } from './lib/tags.ts';

const ADMISSIONS = envNumber('BENCH_ADMISSIONS', 100_000);
const TAGS = envNumber('BENCH_TAGS', 10_000);
const IMAGES_PER_POD = 3;
const CONCURRENCY = 16;
const SAMPLE_EVERY = Math.max(1, Math.floor(ADMISSIONS / 40));
/** The Node flags and environment the chart gives the container, read from charts/tagpin/values.yaml. */
const chartValues = parse(readFileSync(join(repoRoot, 'charts', 'tagpin', 'values.yaml'), 'utf8')) as Readonly<
  Record<'mallocArenaMax' | 'mallocTrimThreshold' | 'mallocMmapThreshold', number> & { nodeOptions: string }
>;
const CHART_NODE_ARGS = chartValues.nodeOptions.split(' ').filter((flag) => flag !== '');
/** The environment the chart's deployment template derives from those values (0 leaves a variable out). */
const CHART_ENV: Readonly<Record<string, string>> = Object.fromEntries(
  (
    [
      ['MALLOC_ARENA_MAX', chartValues.mallocArenaMax],
      ['MALLOC_TRIM_THRESHOLD_', chartValues.mallocTrimThreshold],
      ['MALLOC_MMAP_THRESHOLD_', chartValues.mallocMmapThreshold],
    ] as const
  )
    .filter(([, value]) => value > 0)
    .map(([name, value]) => [name, String(value)]),
);
/**
 * Node's defaults let the old generation grow to several times the live heap before a full collection;
 * the second variant caps it (and the young generation), as a container with a memory limit should.
 */
const VARIANTS: ReadonlyArray<{ readonly name: string; readonly nodeArgs: readonly string[]; readonly env: Readonly<Record<string, string>> }> = [
  { name: 'default Node flags', nodeArgs: [], env: {} },
  { name: 'capped heap', nodeArgs: ['--max-old-space-size=96', '--max-semi-space-size=2'], env: {} },
  // What the chart sets (values.yaml `nodeOptions` and the malloc values): a heap sized to the live data, two malloc arenas, fixed thresholds.
  { name: 'chart settings', nodeArgs: CHART_NODE_ARGS, env: CHART_ENV },
];
/** For trying settings: BENCH_VARIANTS picks variants by a word of their name (`chart`, `capped`, `default`; comma-separated). */
const PICKED = (process.env['BENCH_VARIANTS'] ?? '').split(',').filter((word) => word !== '');
const RUNNING = VARIANTS.filter((variant) => PICKED.length === 0 || PICKED.some((word) => variant.name.includes(word)));
/** A trial of settings prints its figures and leaves bench/results/memory.json alone. */
const TRYING = PICKED.length > 0 || tagpinNodeArgs().length > 0 || Object.keys(tagpinEnv()).length > 0;
/** 1: read pull secrets from a (fake) Kubernetes API, as in a cluster; 0: no API, as on a laptop. */
const WITH_KUBE = envNumber('BENCH_KUBE', 1) === 1;

/** One reading of the server's memory. */
interface Sample {
  readonly admissions: number;
  readonly seconds: number;
  readonly rssMiB: number;
  /** Of RSS, the pages of files: the node binary's code and data that the process touched. */
  readonly rssFileMiB: number;
  readonly heapUsedMiB: number;
  /** V8 heap committed (used or not): what the heap holds of the RSS. */
  readonly heapTotalMiB: number;
  /** Memory outside the V8 heap that V8 knows of (Buffers, TLS): the rest of RSS is code and malloc. */
  readonly externalMiB: number;
}

await runBenchmark('memory', async () => {
  const startedAt = new Date();
  const machine = describeMachine();
  const budget = new Budget('memory', 30 * 60_000);
  const cleanups: Array<() => Promise<void>> = [];
  try {
    const registry = await startRegistry('http');
    cleanups.push(() => registry.stop());
    process.stdout.write(`tagging one manifest ${String(TAGS)} times…\n`);
    const tags = await tagManyTimes(registry, 'mem/app', TAGS, budget);

    // In a cluster every admission also looks up the pod's service account and its pull secrets.
    const env: Record<string, string> = {};
    let kubeRequests = (): number => 0;
    if (WITH_KUBE) {
      const kube = await startFakeKube();
      cleanups.push(() => kube.stop());
      const auth = Buffer.from('puller:secret').toString('base64');
      kube.addSecret('bench', 'regcred', 'kubernetes.io/dockerconfigjson', {
        '.dockerconfigjson': JSON.stringify({ auths: { 'registry.example.com': { auth } } }),
      });
      kube.addServiceAccount('bench', 'default', ['regcred']);
      env['KUBECONFIG'] = kube.kubeconfigFile;
      kubeRequests = () => kube.requests();
    }

    // A certificate from files, as the chart mounts one: the self-signed fallback would load code a cluster never runs.
    const serving = await (await createPki()).issue('tagpin', []);
    const tls = { tlsCert: serving.certFile, tlsKey: serving.keyFile };

    const runs = [];
    for (const variant of RUNNING) {
      budget.check(`variant ${variant.name}`);
      // A fresh registry log per variant: each has to resolve every tag once.
      const manifestsBefore = registry.manifestRequests().length;
      const kubeBefore = kubeRequests();
      const run = await runVariant(variant.nodeArgs, registry.host, tags, tls, { ...env, ...variant.env }, budget);
      runs.push({
        variant: variant.name,
        nodeArgs: variant.nodeArgs,
        env: variant.env,
        ...run,
        registryManifestRequests: registry.manifestRequests().length - manifestsBefore,
        kubernetesApiReads: kubeRequests() - kubeBefore,
      });
      printTable(
        `Memory (${variant.name}): ${String(ADMISSIONS)} admissions of ${String(IMAGES_PER_POD)}-image Pods over ${String(TAGS)} cached tags (${String(run.admissionsPerSecond)} admissions/s)`,
        ['admissions', 'seconds', 'RSS MiB', 'of it files MiB', 'V8 heap used MiB', 'V8 heap committed MiB', 'external MiB'],
        run.samples
          .filter((_, i) => i % 4 === 0 || i === run.samples.length - 1)
          .map((s) => [s.admissions, s.seconds, s.rssMiB, s.rssFileMiB, s.heapUsedMiB, s.heapTotalMiB, s.externalMiB]),
      );
      process.stdout.write(
        `cache: ${JSON.stringify(run.cache)} (misses should equal the ${String(TAGS)} tags); registry manifest requests: ${String(registry.manifestRequests().length - manifestsBefore)}; Kubernetes API reads: ${String(kubeRequests() - kubeBefore)}\n`,
      );
    }
    printTable(
      'Targets: RSS <= 120 MiB after the run, and flat over its last half (growth <= 5%)',
      ['variant', 'idle RSS MiB', 'final RSS MiB', 'max RSS MiB', 'last-half growth MiB', 'slope MiB/10k', '<= 120', 'flat'],
      runs.map((r) => [r.variant, r.idleRssMiB, r.finalRssMiB, r.maxRssMiB, r.lastHalfGrowthMiB, r.lastHalfSlopeMiBPer10k, r.targets.rss.met ? 'yes' : 'NO', r.targets.flat.met ? 'yes' : 'NO']),
    );
    if (TRYING) {
      process.stdout.write('settings under trial: results not recorded\n');
      return;
    }
    const floors = await moduleFloors();
    printTable('What loading costs: RSS of a fresh Node process after importing only this', ['import', 'RSS MiB', 'V8 heap used MiB'], floors.map((f) => [f.name, f.rssMiB, f.heapUsedMiB]));
    await writeResult('memory', startedAt, machine, {
      settings: { admissions: ADMISSIONS, tags: TAGS, imagesPerPod: IMAGES_PER_POD, concurrency: CONCURRENCY, kubernetesApi: WITH_KUBE },
      moduleFloors: floors,
      runs,
    });
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
});

/** One `tagpin serve` with `nodeArgs`, driven through ADMISSIONS admissions, sampled as it goes. */
async function runVariant(
  nodeArgs: readonly string[],
  registryHost: string,
  tags: readonly string[],
  tls: Readonly<Record<'tlsCert' | 'tlsKey', string>>,
  env: Readonly<Record<string, string>>,
  budget: Budget,
): Promise<{
  readonly admissionsPerSecond: number;
  readonly idleRssMiB: number;
  readonly finalRssMiB: number;
  readonly maxRssMiB: number;
  readonly lastHalfGrowthMiB: number;
  readonly lastHalfSlopeMiBPer10k: number;
  readonly cache: Readonly<Record<string, number>>;
  readonly targets: Readonly<Record<'rss' | 'maxRss' | 'flat', { readonly target: string; readonly value: number; readonly met: boolean }>>;
  readonly samples: readonly Sample[];
}> {
  // The cache keeps everything for the whole run: the TTL outlasts it and maxEntries is the tag count.
  const tagpin = await startTagpin({ registries: { insecure: [registryHost] }, cache: { ttlSeconds: 3600, maxEntries: TAGS }, server: tls }, nodeArgs, env);
  const client = new ReviewClient(tagpin.url, CONCURRENCY);
  try {
    await client.warm(CONCURRENCY);
    const idle = await sample(tagpin, 0, 0);

    // The first admissions walk every tag once (filling the cache), the rest pick tags spread over all of them.
    const fill = Math.ceil(TAGS / IMAGES_PER_POD);
    const imagesOf = (n: number): string[] =>
      Array.from({ length: IMAGES_PER_POD }, (_, k) => {
        const index = n < fill ? (n * IMAGES_PER_POD + k) % TAGS : (n * 7919 + k * 104_729) % TAGS;
        return `${registryHost}/mem/app:${tags[index] ?? ''}`;
      });

    const samples: Sample[] = [idle];
    const started = performance.now();
    let done = 0;
    let nextSample = SAMPLE_EVERY;
    let sampling: Promise<void> = Promise.resolve();
    const order = Array.from({ length: ADMISSIONS }, (_, n) => n);
    await forEachLimited(order, CONCURRENCY, budget, async (n) => {
      const answer = await client.mutate(podReview(imagesOf(n), `mem-${String(n)}`));
      if (answer.answer.response.patch === undefined) throw new Error(`admission ${String(n)} was not pinned`);
      done += 1;
      if (done >= nextSample) {
        nextSample += SAMPLE_EVERY;
        const at = done;
        sampling = sampling.then(async () => {
          samples.push(await sample(tagpin, at, (performance.now() - started) / 1000));
        });
      }
    });
    await sampling;
    const seconds = (performance.now() - started) / 1000;
    const cache = sumBy(await tagpin.metrics(), 'tagpin_resolve_cache_total', ['result']);
    const last = samples.at(-1) ?? idle;
    const half = samples.filter((s) => s.admissions >= ADMISSIONS / 2);
    const halfStart = half[0] ?? last;
    const growth = last.rssMiB - halfStart.rssMiB;
    const maxRss = Math.max(...samples.map((s) => s.rssMiB));
    return {
      admissionsPerSecond: round(ADMISSIONS / seconds, 0),
      idleRssMiB: round(idle.rssMiB, 1),
      finalRssMiB: round(last.rssMiB, 1),
      maxRssMiB: round(maxRss, 1),
      lastHalfGrowthMiB: round(growth, 1),
      lastHalfSlopeMiBPer10k: slopePer10k(half),
      cache,
      targets: {
        rss: { target: '<= 120 MiB at the end', value: round(last.rssMiB, 1), met: last.rssMiB <= 120 },
        maxRss: { target: '<= 120 MiB at any sample', value: round(maxRss, 1), met: maxRss <= 120 },
        flat: { target: 'flat over the last half (growth <= 5% of RSS)', value: round(growth, 1), met: growth <= halfStart.rssMiB * 0.05 },
      },
      samples: samples.map((s) => ({
        ...s,
        seconds: round(s.seconds, 2),
        rssMiB: round(s.rssMiB, 1),
        rssFileMiB: round(s.rssFileMiB, 1),
        heapUsedMiB: round(s.heapUsedMiB, 1),
        heapTotalMiB: round(s.heapTotalMiB, 1),
        externalMiB: round(s.externalMiB, 1),
      })),
    };
  } finally {
    await client.close();
    await tagpin.stop();
  }
}

/** RSS of fresh processes that import one thing each, so the idle figure can be taken apart. */
async function moduleFloors(): Promise<ReadonlyArray<{ readonly name: string; readonly rssMiB: number; readonly heapUsedMiB: number }>> {
  const run = promisify(execFile);
  const floors = [];
  for (const [name, specifier] of [
    ['nothing (node -e)', ''],
    // Any TypeScript file makes Node load its type stripper; src/errors imports nothing else.
    ['a small .ts module (src/errors)', './src/errors/index.ts'],
    ['undici', 'undici'],
    ['express', 'express'],
    ['pino', 'pino'],
    ['prom-client', 'prom-client'],
    ['@kubernetes/client-node', '@kubernetes/client-node'],
    ['src/server (all of tagpin serve)', './src/server/index.ts'],
  ] as const) {
    const load = specifier === '' ? '' : `await import(${JSON.stringify(specifier)});`;
    const script = `${load} global.gc?.(); const m = process.memoryUsage(); console.log(JSON.stringify({ rss: m.rss, heap: m.heapUsed }));`;
    const { stdout } = await run(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { cwd: repoRoot, env: cleanEnv(), timeout: 60_000 });
    const usage = JSON.parse(stdout) as { rss: number; heap: number };
    floors.push({ name, rssMiB: round(usage.rss / 2 ** 20, 1), heapUsedMiB: round(usage.heap / 2 ** 20, 1) });
  }
  return floors;
}

async function sample(tagpin: TagpinProcess, admissions: number, seconds: number): Promise<Sample> {
  const text = await tagpin.metrics();
  const mib = (metric: string): number => (sumBy(text, metric, [])[''] ?? Number.NaN) / 2 ** 20;
  return {
    admissions,
    seconds,
    rssMiB: tagpin.rssMiB(),
    rssFileMiB: tagpin.rssFileMiB(),
    heapUsedMiB: mib('tagpin_nodejs_heap_size_used_bytes'),
    heapTotalMiB: mib('tagpin_nodejs_heap_size_total_bytes'),
    externalMiB: mib('tagpin_nodejs_external_memory_bytes'),
  };
}

/** Least-squares slope of RSS against admissions, in MiB per 10,000 admissions. */
function slopePer10k(samples: readonly Sample[]): number {
  if (samples.length < 2) return Number.NaN;
  const xs = samples.map((s) => s.admissions);
  const ys = samples.map((s) => s.rssMiB);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (const [i, x] of xs.entries()) {
    num += (x - mx) * ((ys[i] ?? my) - my);
    den += (x - mx) ** 2;
  }
  return round((num / den) * 10_000, 3);
}
