// Runs a benchmark on a scratch copy of the committed sources with proposed patches applied, for before/after figures.
// Usage: node bench/try-proposal.ts BENCHMARK PATCH...   e.g. node bench/try-proposal.ts cli /tmp/my-change.patch
// The result lands in bench/results/<benchmark>.with-<patch names>.json; the working tree is never touched.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { releaseDir } from '../test/support/exit-cleanup.ts';
import { repoRoot, resultsDir, runBenchmark } from './lib/bench.ts';
import { scratchCopy } from './lib/scratch.ts';

const BENCHMARKS = ['warm', 'fanout', 'economy', 'cli', 'memory', 'startup', 'cli-start', 'profile-warm'];

await runBenchmark('try-proposal', async () => {
  const [benchmark, ...patches] = process.argv.slice(2);
  if (benchmark === undefined || !BENCHMARKS.includes(benchmark) || patches.length === 0) {
    throw new Error(`usage: node bench/try-proposal.ts ${BENCHMARKS.join('|')} PATCH...`);
  }
  const scratch = await scratchCopy(patches);
  try {
    const commit = await capture('git', ['-C', repoRoot, 'rev-parse', 'HEAD']);
    await run(process.execPath, [join('bench', `${benchmark}.ts`)], scratch);
    const label = patches.map((patch) => basename(patch, '.patch')).join('+');
    const target = join(resultsDir, `${benchmark}.with-${label}.json`);
    // Recorded with the commit the scratch copy was made from and the patches on top of it.
    const result = JSON.parse(await readFile(join(scratch, 'bench', 'results', `${benchmark}.json`), 'utf8')) as Record<string, unknown>;
    await writeFile(target, `${JSON.stringify({ ...result, commit, sourcesChanged: true, patches: patches.map((patch) => basename(patch)) }, null, 2)}\n`);
    process.stdout.write(`copied the result to ${target}\n`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
    releaseDir(scratch);
  }
});

async function run(program: string, args: readonly string[], cwd: string): Promise<void> {
  const child = spawn(program, [...args], { cwd, stdio: 'inherit' });
  // A benchmark may take several minutes; none takes an hour.
  const timer = setTimeout(() => child.kill('SIGKILL'), 60 * 60_000);
  const code = await new Promise<number | null>((done, fail) => {
    child.once('error', fail);
    child.once('close', done);
  });
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${program} ${args.join(' ')} exited ${String(code)}`);
}

async function capture(program: string, args: readonly string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(program, [...args], { timeout: 10_000 });
  return stdout.trim();
}
