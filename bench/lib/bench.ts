// What every benchmark shares: statistics, tables, the machine's description, time budgets, result files.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Where `writeResult` puts `<name>.json`. */
export const resultsDir = join(repoRoot, 'bench', 'results');

/** The median of `values` (the mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** The `p`-th percentile (0–100) of `values` by linear interpolation between closest ranks; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  const lowValue = sorted[low] ?? Number.NaN;
  const highValue = sorted[high] ?? Number.NaN;
  return lowValue + (highValue - lowValue) * (rank - low);
}

/** Rounds to `digits` decimals, keeping numbers as numbers in the JSON results. */
export function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Prints `rows` under `headers` as an aligned text table, numbers right-aligned. */
export function printTable(title: string, headers: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): void {
  const cells = [headers, ...rows.map((row) => row.map((cell) => (typeof cell === 'number' ? formatNumber(cell) : cell)))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  const numeric = headers.map((_, column) => rows.every((row) => typeof row[column] === 'number'));
  const line = (row: readonly string[]): string =>
    row.map((cell, column) => (numeric[column] === true ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0))).join('  ');
  process.stdout.write(`\n${title}\n${line(headers)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const row of cells.slice(1)) process.stdout.write(`${line(row)}\n`);
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/** The machine a run happened on, and how busy it was: numbers mean little without it. */
export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryMiB: number;
  readonly node: string;
  readonly kernel: string;
  /** 1, 5 and 15 minute load averages. */
  readonly loadAverage: readonly number[];
}

/** Describes this machine now. */
export function describeMachine(): Machine {
  const list = cpus();
  let kernel = 'unknown';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    // Not Linux; the field stays unknown.
  }
  return {
    cpu: list[0]?.model ?? 'unknown',
    cores: list.length,
    memoryMiB: Math.round(totalmem() / 2 ** 20),
    node: process.version,
    kernel,
    loadAverage: loadavg().map((value) => round(value)),
  };
}

/** A deadline for a whole benchmark; every loop checks it, so nothing runs unbounded. */
export class Budget {
  readonly #deadline: number;
  readonly #what: string;

  constructor(what: string, ms: number) {
    this.#what = what;
    this.#deadline = Date.now() + ms;
  }

  /** Milliseconds left. */
  remaining(): number {
    return this.#deadline - Date.now();
  }

  /** Throws when the budget is spent, naming the step that ran out of time. */
  check(step: string): void {
    if (Date.now() > this.#deadline) throw new Error(`${this.#what}: time budget spent during ${step}`);
  }
}

/** A number from the environment (`BENCH_*` overrides), or `fallback`. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number of 0 or more (got ${raw})`);
  return value;
}

/** Writes `bench/results/<name>.json` with the machine's description and when the run started and ended. */
export async function writeResult(name: string, startedAt: Date, machineBefore: Machine, data: Readonly<Record<string, unknown>>): Promise<string> {
  await mkdir(resultsDir, { recursive: true });
  const file = join(resultsDir, `${name}.json`);
  const record = {
    benchmark: name,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    ...sourceVersion(),
    machine: machineBefore,
    loadAverageAfter: loadavg().map((value) => round(value)),
    tagpinNodeArgs: process.env.BENCH_TAGPIN_NODE_ARGS ?? '',
    ...data,
  };
  await writeFile(file, `${JSON.stringify(record, null, 2)}\n`);
  process.stdout.write(`\nwrote ${file}\n`);
  return file;
}

/** The commit under test, and whether src/ or bin/ differ from it (results of a dirty tree are not that commit's). */
function sourceVersion(): { readonly commit: string; readonly sourcesChanged: boolean } {
  try {
    const git = (args: readonly string[]): string => execFileSync('git', [...args], { cwd: repoRoot, encoding: 'utf8', timeout: 10_000 }).trim();
    return { commit: git(['rev-parse', 'HEAD']), sourcesChanged: git(['status', '--porcelain', '--', 'src', 'bin']) !== '' };
  } catch {
    // A scratch copy (bench/try-proposal.ts) is no repository; its runner names the patches instead.
    return { commit: 'unknown', sourcesChanged: true };
  }
}

/** Runs `task` on `count` items with at most `concurrency` in flight, stopping early if `budget` runs out. */
export async function forEachLimited<T>(
  items: readonly T[],
  concurrency: number,
  budget: Budget,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      budget.check('a bounded loop');
      const index = next;
      next += 1;
      await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
}

/** Runs `main`, printing one line instead of a stack on failure and setting a non-zero exit code. */
export async function runBenchmark(name: string, main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    process.stderr.write(`bench ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    if (process.env.BENCH_DEBUG === '1' && error instanceof Error) process.stderr.write(`${error.stack ?? ''}\n`);
    process.exitCode = 1;
  }
}
