// Where the warm path's CPU goes: the warm-path load on `tagpin serve --cpu-prof` and on both baselines, summarised,
// and the pieces of one cached admission timed in-process.
// BENCH_KEEP_PROFILE=DIR keeps the raw .cpuprofile files (open them in Chrome DevTools or speedscope).
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPki } from '../test/support/pki.ts';
import { startRegistry } from '../test/support/registry.ts';
import { Budget, describeMachine, envNumber, printTable, round, runBenchmark, writeResult } from './lib/bench.ts';
import { timeWarmPieces } from './lib/breakdown.ts';
import { summariseProfile } from './lib/cpuprofile.ts';
import type { ProfileSummary } from './lib/cpuprofile.ts';
import { runLoad } from './lib/load.ts';
import type { LoadResult } from './lib/load.ts';
import { startBaseline, startTagpin } from './lib/processes.ts';
import type { ServerProcess } from './lib/processes.ts';
import { ReviewClient, podReview } from './lib/reviews.ts';

const SECONDS = envNumber('BENCH_SECONDS', 6);
const CONNECTIONS = envNumber('BENCH_CONNECTIONS', 16);

await runBenchmark('profile-warm', async () => {
  const startedAt = new Date();
  const machine = describeMachine();
  const work = await mkdtemp(join(tmpdir(), 'tagpin-bench-profile-'));
  const registry = await startRegistry('http');
  try {
    const images: string[] = [];
    for (const [repository, tag, kind] of [
      ['warm/nginx', '1.27', 'oci-index'],
      ['warm/busybox', '1.36', 'docker-list'],
      ['warm/app', 'v1', 'oci-manifest'],
    ] as const) {
      await registry.push(repository, tag, kind);
      images.push(`${registry.host}/${repository}:${tag}`);
    }
    const pki = await createPki();
    const serving = await pki.issue('bench-webhook', []);
    const review = podReview(images);
    const body = JSON.stringify(review);
    const answerFile = join(work, 'answer.json');

    const profiled = async (name: 'tagpin' | 'bare' | 'express', start: (args: readonly string[]) => Promise<ServerProcess>): Promise<{ load: LoadResult; profile: ProfileSummary; perRequestUs: number }> => {
      const dir = join(work, name);
      await mkdir(dir);
      const server = await start(['--cpu-prof', `--cpu-prof-dir=${dir}`]);
      let load: LoadResult;
      try {
        // Warm up first so the profile shows compiled code, then measure.
        await runLoad(`${server.url}/mutate`, body, CONNECTIONS, 2, server);
        load = await runLoad(`${server.url}/mutate`, body, CONNECTIONS, SECONDS, server);
      } finally {
        await server.stop();
      }
      const file = (await readdir(dir)).find((entry) => entry.endsWith('.cpuprofile'));
      if (file === undefined) throw new Error(`${name} wrote no .cpuprofile`);
      const keep = process.env.BENCH_KEEP_PROFILE;
      if (keep !== undefined && keep !== '') {
        await mkdir(keep, { recursive: true });
        await copyFile(join(dir, file), join(keep, `${name}.cpuprofile`));
      }
      const profile = await summariseProfile(join(dir, file));
      return { load, profile, perRequestUs: round((load.serverCpu / 100 / load.rps) * 1e6, 1) };
    };

    const tagpin = await profiled('tagpin', async (args) => {
      const server = await startTagpin(
        { registries: { insecure: [registry.host] }, cache: { ttlSeconds: 3600 }, server: { tlsCert: serving.certFile, tlsKey: serving.keyFile } },
        args,
      );
      const client = new ReviewClient(server.url, 1);
      const first = await client.mutate(review);
      await client.close();
      // The baseline replaces uid per request; everything else is tagpin's own answer.
      await writeFile(answerFile, JSON.stringify(first.answer.response));
      return server;
    });
    const bare = await profiled('bare', (args) => startBaseline('bare', serving, answerFile, args));
    const expressOnly = await profiled('express', (args) => startBaseline('express', serving, answerFile, args));

    for (const [name, run] of [['tagpin', tagpin], ['express', expressOnly], ['bare', bare]] as const) {
      process.stdout.write(
        `\n${name}: ${String(run.load.rps)} req/s at ${String(CONNECTIONS)} connections under the profiler, ${String(run.perRequestUs)} µs CPU per request; idle ${String(run.profile.idlePercent)}%, GC ${String(run.profile.gcPercent)}% of busy time\n`,
      );
      printTable(`${name}: self time by module (% of busy time)`, ['module', 'ms', '%'], run.profile.byModule.slice(0, 15).map((s) => [s.name, s.ms, s.percent]));
      printTable(`${name}: hottest functions (self time)`, ['function', 'ms', '%'], run.profile.topFunctions.slice(0, 15).map((s) => [s.name, s.ms, s.percent]));
    }
    const pieces = await timeWarmPieces(body, registry.host, new Budget('profile-warm', 5 * 60_000));
    printTable('In-process cost of the pieces of one warm admission (no HTTP)', ['piece', 'µs per call'], pieces.map((p) => [p.name, p.us]));
    printTable(`tagpin: inclusive time by module (% of busy time)`, ['module', 'ms', '%'], tagpin.profile.inclusive.slice(0, 20).map((s) => [s.name, s.ms, s.percent]));
    await writeResult('profile-warm', startedAt, machine, { settings: { seconds: SECONDS, connections: CONNECTIONS }, tagpin, express: expressOnly, bare, pieces });
  } finally {
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  }
});
