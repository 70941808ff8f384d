// Warm path: /mutate throughput and latency with every image cached, against a bare node:https server (and the same
// on express, to price the framework) in the same run.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createPki } from '../test/support/pki.ts';
import { startRegistry } from '../test/support/registry.ts';
import type { TestRegistry } from '../test/support/registry.ts';
import { Budget, describeMachine, envNumber, median, printTable, round, runBenchmark, writeResult } from './lib/bench.ts';
import { runLoad } from './lib/load.ts';
import type { LoadResult } from './lib/load.ts';
import { startBaseline, startTagpin } from './lib/processes.ts';
import type { ServerProcess } from './lib/processes.ts';
import { ReviewClient, patchedImages, podReview } from './lib/reviews.ts';

const CONNECTIONS = [1, 16, 64] as const;
const ROUNDS = envNumber('BENCH_ROUNDS', 3);
const SECONDS = envNumber('BENCH_SECONDS', 8);
const WARMUP_SECONDS = envNumber('BENCH_WARMUP_SECONDS', 3);

await runBenchmark('warm', async () => {
  const startedAt = new Date();
  const machine = describeMachine();
  const budget = new Budget('warm', 20 * 60_000);
  const cleanups: Array<() => Promise<void>> = [];
  try {
    const registry = await startRegistry('http');
    cleanups.push(() => registry.stop());
    const images = await pushImages(registry);

    const pki = await createPki();
    const serving = await pki.issue('bench-webhook', []);
    const tagpin = await startTagpin({
      registries: { insecure: [registry.host] },
      cache: { ttlSeconds: 3600 },
      server: { tlsCert: serving.certFile, tlsKey: serving.keyFile },
    });
    cleanups.push(() => tagpin.stop());

    // One admission fills the cache and gives the answer the baseline repeats.
    const review = podReview([...images.keys()]);
    const body = JSON.stringify(review);
    const client = new ReviewClient(tagpin.url, 1);
    const first = await client.mutate(review);
    await client.close();
    const pinned = [...patchedImages(first.answer).values()];
    for (const [image, digest] of images) {
      if (!pinned.includes(`${image}@${digest}`)) throw new Error(`tagpin did not pin ${image} to the registry's ${digest}`);
    }
    const answerFile = join(pki.dir, 'bare-answer.json');
    // The baseline replaces uid per request; everything else is tagpin's own answer.
    await writeFile(answerFile, JSON.stringify(first.answer.response));
    const bare = await startBaseline('bare', serving, answerFile);
    cleanups.push(() => bare.stop());
    const framework = await startBaseline('express', serving, answerFile);
    cleanups.push(() => framework.stop());

    const servers: ReadonlyArray<readonly [name: ServerName, server: ServerProcess]> = [
      ['tagpin', tagpin],
      ['bare', bare],
      ['express', framework],
    ];
    // Both get the same warm-up so the JIT has compiled the hot paths before anything is recorded.
    for (const [, server] of servers) await runLoad(`${server.url}/mutate`, body, 16, WARMUP_SECONDS, server);

    const runs: Array<{ readonly round: number; readonly server: ServerName; readonly result: LoadResult }> = [];
    for (let pass = 1; pass <= ROUNDS; pass++) {
      for (const connections of CONNECTIONS) {
        // Rotate who goes first, so drift in the machine's load does not favour one side.
        const order = [...servers.slice(pass % servers.length), ...servers.slice(0, pass % servers.length)];
        for (const [name, server] of order) {
          budget.check(`round ${String(pass)}, ${name} at ${String(connections)} connections`);
          const result = await runLoad(`${server.url}/mutate`, body, connections, SECONDS, server);
          if (result.non2xx > 0 || result.errors > 0) {
            throw new Error(`${name} at ${String(connections)} connections: ${String(result.non2xx)} non-2xx answers, ${String(result.errors)} errors`);
          }
          runs.push({ round: pass, server: name, result });
          process.stdout.write(
            `round ${String(pass)} ${name.padEnd(6)} c=${String(connections).padStart(2)}: ${String(result.rps)} req/s, p50 ${String(result.p50)} ms, p99 ${String(result.p99)} ms, server CPU ${String(result.serverCpu)}%, load generator CPU ${String(result.loadCpu)}%\n`,
          );
        }
      }
    }

    const summary = CONNECTIONS.map((connections) => {
      const of = (server: ServerName): LoadResult[] =>
        runs.filter((run) => run.server === server && run.result.connections === connections).map((run) => run.result);
      const mine = of('tagpin');
      const base = of('bare');
      const framework = of('express');
      // Each round's ratio compares runs made within a minute of each other; the median of those is the figure.
      const ratios = mine.map((result, i) => result.rps / (base[i]?.rps ?? Number.NaN));
      const frameworkRatios = framework.map((result, i) => result.rps / (base[i]?.rps ?? Number.NaN));
      return {
        connections,
        tagpin: medians(mine),
        bare: medians(base),
        express: medians(framework),
        ratio: round(median(ratios), 3),
        ratios: ratios.map((r) => round(r, 3)),
        expressRatio: round(median(frameworkRatios), 3),
      };
    });

    printTable(
      `Warm path: /mutate, 3-container Pod, images cached (median of ${String(ROUNDS)} rounds of ${String(SECONDS)} s)`,
      ['conns', 'tagpin req/s', 'bare req/s', 'ratio', 'express req/s', 'express ratio', 'tagpin p50', 'tagpin p99', 'bare p50', 'bare p99', 'tagpin µs CPU/req', 'bare µs CPU/req'],
      summary.map((s) => [
        s.connections,
        s.tagpin.rps,
        s.bare.rps,
        s.ratio,
        s.express.rps,
        s.expressRatio,
        s.tagpin.p50,
        s.tagpin.p99,
        s.bare.p50,
        s.bare.p99,
        s.tagpin.cpuUsPerRequest,
        s.bare.cpuUsPerRequest,
      ]),
    );
    printTable(
      'Who used the two cores (median %, 100 = one core)',
      ['conns', 'tagpin server', 'load generator (vs tagpin)', 'bare server', 'load generator (vs bare)'],
      summary.map((s) => [s.connections, s.tagpin.serverCpu, s.tagpin.loadCpu, s.bare.serverCpu, s.bare.loadCpu]),
    );
    const at = (connections: number): (typeof summary)[number] | undefined => summary.find((s) => s.connections === connections);
    const targets = {
      ratioAt16: { target: '>= 0.85', value: at(16)?.ratio, met: (at(16)?.ratio ?? 0) >= 0.85 },
      ratioAt64: { target: '>= 0.85', value: at(64)?.ratio, met: (at(64)?.ratio ?? 0) >= 0.85 },
      p99At1: { target: '<= 2 ms', value: at(1)?.tagpin.p99, met: (at(1)?.tagpin.p99 ?? Infinity) <= 2 },
    };
    printTable(
      'Targets',
      ['target', 'wanted', 'measured', 'met'],
      Object.entries(targets).map(([name, t]) => [name, t.target, t.value ?? Number.NaN, t.met ? 'yes' : 'NO']),
    );
    await writeResult('warm', startedAt, machine, {
      settings: { rounds: ROUNDS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, connections: CONNECTIONS, images: [...images.keys()] },
      summary,
      targets,
      runs,
    });
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
});

type ServerName = 'tagpin' | 'bare' | 'express';

/** Medians over rounds of one server's runs at one connection count, plus its CPU cost per request. */
function medians(list: readonly LoadResult[]): {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly serverCpu: number;
  readonly loadCpu: number;
  readonly cpuUsPerRequest: number;
} {
  const pick = (key: 'rps' | 'p50' | 'p99' | 'serverCpu' | 'loadCpu'): number => median(list.map((r) => r[key]));
  return {
    rps: pick('rps'),
    p50: round(pick('p50'), 3),
    p99: round(pick('p99'), 3),
    serverCpu: pick('serverCpu'),
    loadCpu: pick('loadCpu'),
    cpuUsPerRequest: round(median(list.map((r) => ((r.serverCpu / 100) * 1e6) / r.rps)), 1),
  };
}

/** Three images of the three kinds a Pod usually mixes: an OCI index, a Docker list, a single manifest. */
async function pushImages(registry: TestRegistry): Promise<ReadonlyMap<string, string>> {
  const images = new Map<string, string>();
  for (const [repository, tag, kind] of [
    ['warm/nginx', '1.27', 'oci-index'],
    ['warm/busybox', '1.36', 'docker-list'],
    ['warm/app', 'v1', 'oci-manifest'],
  ] as const) {
    images.set(`${registry.host}/${repository}:${tag}`, await registry.push(repository, tag, kind));
  }
  return images;
}
