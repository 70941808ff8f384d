// Cold fan-out: admission latency of Pods with 1, 5, 10 and 20 distinct uncached images, the registry 100 ms away.
import { performance } from 'node:perf_hooks';
import { startRegistry } from '../test/support/registry.ts';
import { Budget, describeMachine, envNumber, forEachLimited, median, printTable, round, runBenchmark, writeResult } from './lib/bench.ts';
import { startDelayProxy } from './lib/delay-proxy.ts';
import { startTagpin } from './lib/processes.ts';
import { ReviewClient, patchedImages, podReview } from './lib/reviews.ts';

const SIZES = [1, 5, 10, 20] as const;
const ROUNDS = envNumber('BENCH_ROUNDS', 7);
const DELAY_MS = envNumber('BENCH_DELAY_MS', 100);

await runBenchmark('fanout', async () => {
  const startedAt = new Date();
  const machine = describeMachine();
  const budget = new Budget('fanout', 15 * 60_000);
  const cleanups: Array<() => Promise<void>> = [];
  try {
    const registry = await startRegistry('http');
    cleanups.push(() => registry.stop());
    const proxy = await startDelayProxy(registry.baseUrl, DELAY_MS);
    cleanups.push(() => proxy.close());

    // Every image of every Pod is its own repository, used once: nothing is cached, nothing is shared.
    // Round 0 is a warm-up (JIT, connection pool to the proxy) and is not recorded.
    const plan = [];
    for (let pass = 0; pass <= ROUNDS; pass++) {
      for (const size of SIZES) {
        const repositories = Array.from({ length: size }, (_, i) => `fan/r${String(pass)}-n${String(size)}-i${String(i)}`);
        plan.push({ pass, size, repositories });
      }
    }
    const pushes = plan.flatMap((p) => p.repositories);
    process.stdout.write(`pushing ${String(pushes.length)} images…\n`);
    const digests = new Map<string, string>();
    await forEachLimited(pushes, 4, budget, async (repository) => {
      digests.set(repository, await registry.push(repository, 'v1', 'oci-manifest'));
    });

    const tagpin = await startTagpin({ registries: { insecure: [proxy.host] }, resolve: { timeoutMs: 8000 } });
    cleanups.push(() => tagpin.stop());
    const client = new ReviewClient(tagpin.url, 1);
    cleanups.push(() => client.close());
    await client.warm(1);

    const samples: Array<{ readonly round: number; readonly size: number; readonly ms: number }> = [];
    for (const { pass, size, repositories } of plan) {
      budget.check(`round ${String(pass)}, ${String(size)} images`);
      const images = repositories.map((repository) => `${proxy.host}/${repository}:v1`);
      const answer = await client.mutate(podReview(images));
      const pinned = new Set(patchedImages(answer.answer).values());
      for (const [i, image] of images.entries()) {
        const digest = digests.get(repositories[i] ?? '');
        if (!pinned.has(`${image}@${digest ?? '?'}`)) throw new Error(`round ${String(pass)}: ${image} was not pinned to the registry's digest`);
      }
      if (pass > 0) samples.push({ round: pass, size, ms: round(answer.ms, 2) });
    }

    // What one request through the proxy costs, measured the same way: the floor for any lookup.
    const floor: number[] = [];
    for (let i = 0; i < 5; i++) {
      budget.check('measuring the proxy floor');
      const started = performance.now();
      const response = await fetch(`http://${proxy.host}/v2/`);
      await response.arrayBuffer();
      floor.push(performance.now() - started);
    }

    const one = median(samples.filter((s) => s.size === 1).map((s) => s.ms));
    const summary = SIZES.map((size) => {
      const list = samples.filter((s) => s.size === size).map((s) => s.ms);
      const med = median(list);
      return {
        images: size,
        medianMs: round(med, 1),
        minMs: round(Math.min(...list), 1),
        maxMs: round(Math.max(...list), 1),
        vsOneImage: round(med / one, 3),
        serialWouldBeMs: size * DELAY_MS,
      };
    });
    printTable(
      `Cold fan-out: one admission, every image uncached, registry behind a ${String(DELAY_MS)} ms proxy (median of ${String(ROUNDS)} rounds)`,
      ['images', 'median ms', 'min ms', 'max ms', 'x 1-image', 'serial lookups would take ms'],
      summary.map((s) => [s.images, s.medianMs, s.minMs, s.maxMs, s.vsOneImage, s.serialWouldBeMs]),
    );
    const ten = summary.find((s) => s.images === 10)?.vsOneImage ?? Number.NaN;
    const targets = { tenVsOne: { target: '<= 1.3', value: ten, met: ten <= 1.3 } };
    printTable('Targets', ['target', 'wanted', 'measured', 'met'], [['10 images vs 1 image', '<= 1.3', ten, ten <= 1.3 ? 'yes' : 'NO']]);
    const counts = proxy.counts();
    process.stdout.write(`proxy floor (one request, plain HTTP): median ${String(round(median(floor), 1))} ms; requests through the proxy: ${JSON.stringify(counts)}\n`);
    await writeResult('fanout', startedAt, machine, {
      settings: { rounds: ROUNDS, delayMs: DELAY_MS, sizes: SIZES },
      proxyFloorMs: round(median(floor), 1),
      proxyRequests: counts,
      summary,
      targets,
      samples,
    });
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
});
