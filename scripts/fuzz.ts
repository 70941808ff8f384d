// Runs the AdmissionReview fuzzer for many cases (default 10,000) against a real `tagpin serve` and prints the counts.
// Usage: node scripts/fuzz.ts [--runs N] [--seed S]
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { checkCase, fuzzCases, fuzzConfig } from '../test/fuzz/reviews.ts';
import { startRegistry } from '../test/support/registry.ts';
import { startServe } from '../test/support/serve.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10000' }, seed: { type: 'string' } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 1_000_000) throw new Error(`--runs must be an integer from 1 to 1000000 (got ${String(values.runs)})`);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);

const registry = await startRegistry('http');
let exitCode = 0;
try {
  await registry.push('demo/app', 'v1', 'oci-manifest');
  const server = await startServe({ config: fuzzConfig(registry.host) });
  const started = performance.now();
  const byShape = new Map<string, Map<number, number>>();
  let cases = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fuzzCases(registry.host), async (c) => {
        const { status } = await checkCase(server, c);
        cases += 1;
        const counts = byShape.get(c.shape) ?? new Map<number, number>();
        counts.set(status, (counts.get(status) ?? 0) + 1);
        byShape.set(c.shape, counts);
        if (cases % 1000 === 0) process.stdout.write(`  ${String(cases)} cases…\n`);
      }),
      { numRuns: runs, seed },
    );
    const health = await server.get('/healthz');
    const errors = server.lines().filter((line) => typeof line['level'] === 'number' && line['level'] >= 50);
    if (health.status !== 200) throw new Error(`/healthz answered ${String(health.status)} after the run`);
    if (errors.length > 0) throw new Error(`tagpin logged ${String(errors.length)} internal errors, e.g. ${JSON.stringify(errors[0])}`);
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`fuzz: ${String(runs)} cases passed in ${seconds.toFixed(1)} s (seed ${String(seed)}); /healthz ok; no internal errors\n`);
    for (const [shape, counts] of [...byShape].sort()) {
      const parts = [...counts].sort(([a], [b]) => a - b).map(([status, n]) => `${String(status)}: ${String(n)}`);
      process.stdout.write(`  ${shape.padEnd(20)} ${parts.join(', ')}\n`);
    }
  } catch (error) {
    exitCode = 1;
    process.stderr.write(`fuzz: failed after ${String(cases)} cases (seed ${String(seed)}): ${error instanceof Error ? error.message : String(error)}\n`);
  } finally {
    await server.stop();
  }
} finally {
  await registry.stop();
}
process.exitCode = exitCode;
