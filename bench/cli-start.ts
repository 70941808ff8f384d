// CLI start-up: `tagpin version`, from spawn to exit, in every form tagpin is run: the TypeScript
// sources, the checkout's launcher and `npx tagpin`, the npm package installed with `npm install -g`,
// and the single executable. Each form is built from the working tree into a temp dir first.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildExecutable, packAndInstall } from '../test/support/installed.ts';
import { Budget, describeMachine, envNumber, median, printTable, repoRoot, round, runBenchmark, writeResult } from './lib/bench.ts';

const RUNS = envNumber('BENCH_RUNS', 20);

/** One way of starting `tagpin version`. */
interface Variant {
  readonly name: string;
  readonly command: readonly string[];
  readonly cwd: string;
  readonly env?: Readonly<Record<string, string>>;
  /** What stdout must start with (a form that fails fast must not look fast). */
  readonly expect: string;
}

await runBenchmark('cli-start', async () => {
  const startedAt = new Date();
  const machine = describeMachine();
  const budget = new Budget('cli-start', 10 * 60_000);
  const work = await mkdtemp(join(tmpdir(), 'tagpin-bench-cli-start-'));
  try {
    const installed = await packAndInstall();
    const executable = await buildExecutable();
    // Node 24 first on PATH, as for a user who has it: the launcher's `#!/usr/bin/env node` and npx find it.
    const path = { PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` };
    const variants: readonly Variant[] = [
      { name: 'sources: node src/main.ts version', command: [process.execPath, 'src/main.ts', 'version'], cwd: repoRoot, expect: 'tagpin ' },
      { name: 'checkout launcher: node bin/tagpin.js version', command: [process.execPath, 'bin/tagpin.js', 'version'], cwd: repoRoot, expect: 'tagpin ' },
      { name: 'npx tagpin version (in the checkout)', command: ['npx', 'tagpin', 'version'], cwd: repoRoot, env: path, expect: 'tagpin ' },
      { name: 'installed package: tagpin version', command: [installed.command, 'version'], cwd: work, env: path, expect: 'tagpin ' },
      {
        name: 'installed package, compile cache off (a first run)',
        command: [installed.command, 'version'],
        cwd: work,
        env: { ...path, NODE_DISABLE_COMPILE_CACHE: '1' },
        expect: 'tagpin ',
      },
      { name: 'single executable: tagpin version', command: [executable, 'version'], cwd: work, expect: 'tagpin ' },
      { name: 'node -e 0 (Node alone)', command: [process.execPath, '-e', 'process.stdout.write("-")'], cwd: work, expect: '-' },
    ];
    const times = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    // Run 0 fills the page cache and the compile cache and is not recorded; variants take turns so drift hits all alike.
    for (let run = 0; run <= RUNS; run++) {
      for (const variant of variants) {
        budget.check(`run ${String(run)} of ${variant.name}`);
        const ms = await timeOnce(variant);
        if (run > 0) times.get(variant.name)?.push(ms);
      }
    }
    const summary = variants.map((variant) => {
      const runs = times.get(variant.name) ?? [];
      return {
        variant: variant.name,
        medianMs: round(median(runs), 1),
        minMs: round(Math.min(...runs), 1),
        maxMs: round(Math.max(...runs), 1),
        runsMs: runs.map((ms) => round(ms, 1)),
      };
    });
    printTable(
      `tagpin version, from spawn to exit (median of ${String(RUNS)} runs, ms)`,
      ['form', 'median', 'min', 'max'],
      summary.map((s) => [s.variant, s.medianMs, s.minMs, s.maxMs]),
    );
    await writeResult('cli-start', startedAt, machine, { settings: { runs: RUNS }, summary });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

/** Spawns the variant once; milliseconds until it exited, after checking it printed what it should. */
async function timeOnce(variant: Variant): Promise<number> {
  const [program, ...args] = variant.command;
  if (program === undefined) throw new Error(`${variant.name}: no program`);
  const started = performance.now();
  const child = spawn(program, args, { cwd: variant.cwd, env: { ...process.env, ...variant.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    const ms = performance.now() - started;
    if (code !== 0 || !stdout.startsWith(variant.expect)) {
      throw new Error(`${variant.name} exited ${String(code)}: ${stderr.trim().split('\n').slice(-2).join(' | ')}`);
    }
    return ms;
  } finally {
    clearTimeout(guard);
  }
}
