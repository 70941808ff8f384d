// What grows in tagpin serve's heap under warm admissions: two heap snapshots (V8 collects garbage before each),
// taken after BENCH_FIRST and after BENCH_FIRST + BENCH_SECOND admissions, compared by kind of object.
// BENCH_KUBE=0 runs without the (fake) Kubernetes API, to tell the pull-secret path from the rest.
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFakeKube } from '../test/support/fake-kube.ts';
import { startRegistry } from '../test/support/registry.ts';
import { Budget, describeMachine, envNumber, forEachLimited, printTable, round, runBenchmark, writeResult } from './lib/bench.ts';
import { groupHeap, heapGrowth } from './lib/heapsnapshot.ts';
import { startTagpin } from './lib/processes.ts';
import type { TagpinProcess } from './lib/processes.ts';
import { ReviewClient, podReview } from './lib/reviews.ts';
import { tagManyTimes } from './lib/tags.ts';

const FIRST = envNumber('BENCH_FIRST', 3000);
const SECOND = envNumber('BENCH_SECOND', 6000);
const TAGS = envNumber('BENCH_TAGS', 1000);
const WITH_KUBE = envNumber('BENCH_KUBE', 1) === 1;

await runBenchmark('profile-memory', async () => {
  const startedAt = new Date();
  const machine = describeMachine();
  const budget = new Budget('profile-memory', 15 * 60_000);
  const snapshots = await mkdtemp(join(tmpdir(), 'tagpin-bench-heap-'));
  const cleanups: Array<() => Promise<void>> = [() => rm(snapshots, { recursive: true, force: true })];
  try {
    const registry = await startRegistry('http');
    cleanups.push(() => registry.stop());
    const tags = await tagManyTimes(registry, 'mem/app', TAGS, budget);
    const env: Record<string, string> = {};
    if (WITH_KUBE) {
      const kube = await startFakeKube();
      cleanups.push(() => kube.stop());
      kube.addSecret('bench', 'regcred', 'kubernetes.io/dockerconfigjson', {
        '.dockerconfigjson': JSON.stringify({ auths: { 'registry.example.com': { auth: Buffer.from('puller:secret').toString('base64') } } }),
      });
      kube.addServiceAccount('bench', 'default', ['regcred']);
      env['KUBECONFIG'] = kube.kubeconfigFile;
    }
    const tagpin = await startTagpin(
      { registries: { insecure: [registry.host] }, cache: { ttlSeconds: 3600, maxEntries: TAGS } },
      ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshots}`],
      env,
    );
    cleanups.push(() => tagpin.stop());
    const client = new ReviewClient(tagpin.url, 16);
    cleanups.push(() => client.close());

    let sent = 0;
    const admit = async (count: number): Promise<void> => {
      const order = Array.from({ length: count }, (_, i) => sent + i);
      sent += count;
      await forEachLimited(order, 16, budget, async (n) => {
        const images = [0, 1, 2].map((k) => `${registry.host}/mem/app:${tags[(n * 3 + k) % tags.length] ?? ''}`);
        await client.mutate(podReview(images, `heap-${String(n)}`));
      });
    };
    await admit(FIRST);
    const before = await snapshot(tagpin, snapshots, budget);
    const rssBefore = tagpin.rssMiB();
    await admit(SECOND);
    const after = await snapshot(tagpin, snapshots, budget);
    const rssAfter = tagpin.rssMiB();

    const growth = heapGrowth(await groupHeap(before), await groupHeap(after), 25);
    const totalBefore = [...(await groupHeap(before)).values()].reduce((sum, g) => sum + g.bytes, 0);
    const totalAfter = [...(await groupHeap(after)).values()].reduce((sum, g) => sum + g.bytes, 0);
    printTable(
      `Heap growth over ${String(SECOND)} admissions after the first ${String(FIRST)} (Kubernetes API ${WITH_KUBE ? 'on' : 'off'}): live heap ${String(round(totalBefore / 2 ** 20, 1))} → ${String(round(totalAfter / 2 ** 20, 1))} MiB, RSS ${String(round(rssBefore, 1))} → ${String(round(rssAfter, 1))} MiB`,
      ['kind of object', 'more objects', 'more KiB', 'bytes per admission'],
      growth.map((g) => [g.kind, g.count, round(g.bytes / 1024, 1), round(g.bytes / SECOND, 1)]),
    );
    await writeResult('profile-memory', startedAt, machine, {
      settings: { first: FIRST, second: SECOND, tags: TAGS, kubernetesApi: WITH_KUBE },
      liveHeapMiB: { before: round(totalBefore / 2 ** 20, 2), after: round(totalAfter / 2 ** 20, 2) },
      rssMiB: { before: round(rssBefore, 1), after: round(rssAfter, 1) },
      growth: growth.map((g) => ({ ...g, bytesPerAdmission: round(g.bytes / SECOND, 1) })),
    });
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
});

/** Signals the server to write a heap snapshot and waits until the new file is complete. */
async function snapshot(tagpin: TagpinProcess, dir: string, budget: Budget): Promise<string> {
  const existing = new Set(await readdir(dir));
  process.kill(tagpin.pid, 'SIGUSR2');
  let lastSize = -1;
  for (let attempt = 0; attempt < 600; attempt++) {
    budget.check('waiting for a heap snapshot');
    await sleep(250);
    const file = (await readdir(dir)).find((name) => name.endsWith('.heapsnapshot') && !existing.has(name));
    if (file === undefined) continue;
    const { size } = await stat(join(dir, file));
    // Written in one go and closed; a size that holds still over a poll means it is done.
    if (size > 0 && size === lastSize) return join(dir, file);
    lastSize = size;
  }
  throw new Error('tagpin serve wrote no heap snapshot within 150 s');
}
