// Runs every benchmark in turn, each in its own process (`npm run bench`); stops at the first that fails.
// Usage: node bench/all.ts [NAME...]   (default: all seven, in the order below)
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { repoRoot, round, runBenchmark } from './lib/bench.ts';

const ALL = ['startup', 'cli-start', 'warm', 'fanout', 'economy', 'cli', 'memory'] as const;
/** No single benchmark takes this long with its default settings; it only bounds a hung one. */
const PER_BENCHMARK_MS = 40 * 60_000;

await runBenchmark('all', async () => {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((name) => !(ALL as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`unknown benchmark ${unknown.join(', ')}; choose from ${ALL.join(', ')}`);
  const names = asked.length > 0 ? asked : ALL;
  process.stdout.write(`load average before: ${loadavg().map((v) => round(v)).join(', ')} (numbers are only comparable on an otherwise idle machine)\n`);
  for (const name of names) {
    process.stdout.write(`\n=== ${name} ===\n`);
    const started = performance.now();
    const child = spawn(process.execPath, [join(repoRoot, 'bench', `${name}.ts`)], { cwd: repoRoot, stdio: 'inherit' });
    const timer = setTimeout(() => child.kill('SIGTERM'), PER_BENCHMARK_MS);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    clearTimeout(timer);
    if (code !== 0) throw new Error(`${name} failed (exit ${String(code)})`);
    process.stdout.write(`=== ${name}: ${String(round((performance.now() - started) / 1000, 0))} s ===\n`);
  }
});
