// Cost of a cold lookup: CPU time and heap allocated per registry round trip (HEAD with a cached token),
// in-process, against the real token registry over TLS. Runs itself again with young-generation space
// large enough that no collection happens while it measures, so the heap's growth is what was allocated.
import { spawnSync } from 'node:child_process';
import { subscribe } from 'node:diagnostics_channel';
import { PerformanceObserver } from 'node:perf_hooks';
import { readFile } from 'node:fs/promises';
import { getHeapStatistics } from 'node:v8';
import { parseReference } from '../src/reference/index.ts';
import { createRegistryClient } from '../src/registry/index.ts';
import { startRegistry } from '../test/support/registry.ts';
import { Budget, describeMachine, envNumber, printTable, round, runBenchmark, writeResult } from './lib/bench.ts';

const LOOKUPS = envNumber('BENCH_LOOKUPS', 2000);
const YOUNG = ['--max-semi-space-size=256', '--min-semi-space-size=256'];

if (!process.execArgv.includes(YOUNG[0] as string)) {
  const again = spawnSync(process.execPath, [...YOUNG, ...process.execArgv, new URL(import.meta.url).pathname], { stdio: 'inherit' });
  process.exit(again.status ?? 1);
}

await runBenchmark('cold', async () => {
  const startedAt = new Date();
  const machine = describeMachine();
  const budget = new Budget('cold', 5 * 60_000);
  const registry = await startRegistry('token');
  try {
    const digest = await registry.push('public/cold', 'v1', 'oci-index');
    const ca = await readFile(registry.pki?.caFile ?? '', 'utf8');
    // The digest cache is off: every lookup is a round trip. The token and connections are reused.
    const client = createRegistryClient({ ca, allow: ['127.0.0.1'], cache: { ttlSeconds: 0, maxEntries: 0 } });
    const ref = parseReference(`${registry.host}/public/cold:v1`);
    const lookup = async (): Promise<void> => {
      const answer = await client.resolve(ref, { deadline: Date.now() + 10_000 });
      if (answer.digest !== digest) throw new Error(`resolved ${answer.digest}, the registry reported ${digest}`);
    };
    for (let i = 0; i < 100; i++) await lookup();

    let connections = 0;
    subscribe('undici:client:connected', () => {
      connections += 1;
    });
    let collections = 0;
    const gc = new PerformanceObserver((list) => {
      collections += list.getEntries().length;
    });
    gc.observe({ entryTypes: ['gc'] });
    const tokensBefore = registry.tokenRequests().length;
    const manifestsBefore = registry.manifestRequests().length;
    const heapBefore = getHeapStatistics().used_heap_size;
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    for (let i = 0; i < LOOKUPS; i++) {
      if (i % 500 === 0) budget.check(`lookup ${String(i)}`);
      await lookup();
    }
    const wallMs = performance.now() - wallBefore;
    const cpu = process.cpuUsage(cpuBefore);
    const allocated = getHeapStatistics().used_heap_size - heapBefore;
    await new Promise((resolve) => setImmediate(resolve));
    gc.disconnect();
    const result = {
      lookups: LOOKUPS,
      cpuUsPerLookup: round((cpu.user + cpu.system) / LOOKUPS, 1),
      wallUsPerLookup: round((wallMs * 1000) / LOOKUPS, 1),
      heapKiBPerLookup: collections === 0 ? round(allocated / 1024 / LOOKUPS, 2) : null,
      collectionsDuringRun: collections,
      newConnections: connections,
      tokenRequests: registry.tokenRequests().length - tokensBefore,
      manifestRequests: registry.manifestRequests().length - manifestsBefore,
    };
    printTable(
      `Cold lookups: ${String(LOOKUPS)} HEADs with a cached token, digest cache off, token registry over TLS on loopback`,
      ['CPU µs/lookup', 'wall µs/lookup', 'heap KiB/lookup', 'GCs during run', 'new connections', 'token requests', 'manifest requests'],
      [[result.cpuUsPerLookup, result.wallUsPerLookup, result.heapKiBPerLookup ?? 'n/a (a GC ran)', collections, connections, result.tokenRequests, result.manifestRequests]],
    );
    await client.close();
    await writeResult('cold', startedAt, machine, { settings: { lookups: LOOKUPS, nodeArgs: YOUNG }, result });
  } finally {
    await registry.stop();
  }
});
