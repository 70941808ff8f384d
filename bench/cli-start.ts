// CLI start-up: `tagpin version`, from spawn to exit, in every form tagpin is run: the TypeScript
// sources, the checkout's launcher and `npx tagpin`, the npm package installed with `npm install -g`,
// and the single executable. Each form is built from the working tree into a temp dir first.
// BENCH_BEFORE_PATCHES="a.patch b.patch" also builds every form from a scratch copy of HEAD with those
// patches applied (bench/lib/scratch.ts), and its runs take turns with the working tree's: before and
// after under the same load.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildExecutable, packAndInstall } from '../test/support/installed.ts';
import { Budget, describeMachine, envNumber, median, printTable, repoRoot, round, runBenchmark, writeResult } from './lib/bench.ts';
import { exitedChildrenCpuMs } from './lib/processes.ts';
import { scratchCopy } from './lib/scratch.ts';

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
    const beforePatches = (process.env.BENCH_BEFORE_PATCHES ?? '').split(' ').filter((patch) => patch !== '');
    const variants: Variant[] = [];
    if (beforePatches.length > 0) variants.push(...(await formsOf(await scratchCopy(beforePatches), work, ' (before)')));
    variants.push(...(await formsOf(repoRoot, work, '')));
    variants.push({ name: 'node -e 0 (Node alone)', command: [process.execPath, '-e', 'process.stdout.write("-")'], cwd: work, expect: '-' });
    const times = new Map<string, Run[]>(variants.map((v) => [v.name, []]));
    // Run 0 fills the page cache and the compile cache and is not recorded; variants take turns so drift hits all alike.
    for (let run = 0; run <= RUNS; run++) {
      for (const variant of variants) {
        budget.check(`run ${String(run)} of ${variant.name}`);
        const measured = await timeOnce(variant);
        if (run > 0) times.get(variant.name)?.push(measured);
      }
    }
    const summary = variants.map((variant) => {
      const runs = times.get(variant.name) ?? [];
      const wall = runs.map((r) => r.wallMs);
      return {
        variant: variant.name,
        medianMs: round(median(wall), 1),
        minMs: round(Math.min(...wall), 1),
        maxMs: round(Math.max(...wall), 1),
        cpuMs: round(median(runs.map((r) => r.cpuMs)), 1),
        runs: runs.map((r) => ({ wallMs: round(r.wallMs, 1), cpuMs: round(r.cpuMs, 1) })),
      };
    });
    printTable(
      `tagpin version, from spawn to exit (median of ${String(RUNS)} runs, ms; CPU: user + system of the process and its children)`,
      ['form', 'median', 'min', 'max', 'CPU'],
      summary.map((s) => [s.variant, s.medianMs, s.minMs, s.maxMs, s.cpuMs]),
    );
    await writeResult('cli-start', startedAt, machine, { settings: { runs: RUNS, beforePatches }, summary });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

/** Every form of `tagpin version` built from the tree at `root`, named with `suffix`. */
async function formsOf(root: string, work: string, suffix: string): Promise<readonly Variant[]> {
  const installed = await packAndInstall(root);
  const executable = await buildExecutable(root);
  // Node 24 first on PATH, as for a user who has it: the launcher's `#!/usr/bin/env node` and npx find it.
  const path = { PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` };
  const version = (name: string, command: readonly string[], cwd: string, env: Readonly<Record<string, string>> = {}): Variant => ({
    name: `${name}${suffix}`,
    command,
    cwd,
    env,
    expect: 'tagpin ',
  });
  return [
    version('sources: node src/main.ts version', [process.execPath, 'src/main.ts', 'version'], root),
    version('checkout launcher: node bin/tagpin.js version', [process.execPath, 'bin/tagpin.js', 'version'], root),
    version('npx tagpin version (in the checkout)', ['npx', 'tagpin', 'version'], root, path),
    version('installed package: tagpin version', [installed.command, 'version'], work, path),
    version('installed package, compile cache off (a first run)', [installed.command, 'version'], work, { ...path, NODE_DISABLE_COMPILE_CACHE: '1' }),
    version('single executable: tagpin version', [executable, 'version'], work),
  ];
}

/** One start: wall time from spawn to exit, and the CPU time it used (its children's included). */
interface Run {
  readonly wallMs: number;
  readonly cpuMs: number;
}

/** Spawns the variant once and waits for it to exit, after checking it printed what it should. */
async function timeOnce(variant: Variant): Promise<Run> {
  const [program, ...args] = variant.command;
  if (program === undefined) throw new Error(`${variant.name}: no program`);
  // Read from the kernel's counters for children that have exited: the wall time under load, the CPU time not.
  const cpuBefore = exitedChildrenCpuMs();
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
    const wallMs = performance.now() - started;
    if (code !== 0 || !stdout.startsWith(variant.expect)) {
      throw new Error(`${variant.name} exited ${String(code)}: ${stderr.trim().split('\n').slice(-2).join(' | ')}`);
    }
    return { wallMs, cpuMs: exitedChildrenCpuMs() - cpuBefore };
  } finally {
    clearTimeout(guard);
  }
}
