// Keep-alive HTTPS load with wrk (C, one thread: never the bottleneck), and who used the CPU during it.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { killOnExit } from '../../test/support/exit-cleanup.ts';
import { round } from './bench.ts';
import { exitedChildrenCpuMs } from './processes.ts';
import type { ServerProcess } from './processes.ts';

/** What one load run measured. */
export interface LoadResult {
  readonly connections: number;
  readonly seconds: number;
  /** Answers per second over the run. */
  readonly rps: number;
  readonly requests: number;
  /** Answers with a status of 400 or more. */
  readonly non2xx: number;
  /** Connect, read, write and timeout errors. */
  readonly errors: number;
  /** Latency percentiles in milliseconds, from wrk's full-resolution histogram of every request. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  /** CPU the server process used, in % of one core (200 = both cores of this machine). */
  readonly serverCpu: number;
  /** CPU the load generator (wrk) used, in % of one core. */
  readonly loadCpu: number;
}

/** The Lua side: POSTs the body file, and prints the summary as one JSON line when done. */
const SCRIPT = `
local file = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = file:read("*a")
file:close()
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH_WRK {"requests":%d,"durationUs":%d,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

interface WrkSummary {
  readonly requests: number;
  readonly durationUs: number;
  readonly status: number;
  readonly connect: number;
  readonly read: number;
  readonly write: number;
  readonly timeout: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * Sends `body` with POST to `url` on `connections` keep-alive connections for `seconds` with wrk (one
 * thread, one request in flight per connection). Needs `wrk` (apt-get install -y wrk).
 */
export async function runLoad(url: string, body: string, connections: number, seconds: number, server: ServerProcess): Promise<LoadResult> {
  const dir = await mkdtemp(join(tmpdir(), 'tagpin-bench-wrk-'));
  try {
    const bodyFile = join(dir, 'body.json');
    const scriptFile = join(dir, 'post.lua');
    await writeFile(bodyFile, body);
    await writeFile(scriptFile, SCRIPT);
    const serverBefore = server.cpuMs();
    const loadBefore = exitedChildrenCpuMs();
    const started = performance.now();
    const args = ['-t1', `-c${String(connections)}`, `-d${String(seconds)}s`, '--timeout', '10s', '-s', scriptFile, url];
    const output = await runWrk(args, { ...process.env, BENCH_BODY_FILE: bodyFile }, (seconds + 20) * 1000);
    const wallMs = performance.now() - started;
    const serverMs = server.cpuMs() - serverBefore;
    const loadMs = exitedChildrenCpuMs() - loadBefore;
    const line = output.split('\n').find((l) => l.startsWith('BENCH_WRK '));
    if (line === undefined) throw new Error(`wrk printed no summary:\n${output}`);
    const summary = JSON.parse(line.slice('BENCH_WRK '.length)) as WrkSummary;
    const elapsedS = summary.durationUs / 1e6;
    const ms = (us: number): number => round(us / 1000, 3);
    return {
      connections,
      seconds: round(elapsedS, 2),
      rps: round(summary.requests / elapsedS, 0),
      requests: summary.requests,
      non2xx: summary.status,
      errors: summary.connect + summary.read + summary.write + summary.timeout,
      p50: ms(summary.p50),
      p90: ms(summary.p90),
      p99: ms(summary.p99),
      max: ms(summary.max),
      serverCpu: round((serverMs / wallMs) * 100, 0),
      loadCpu: round((loadMs / wallMs) * 100, 0),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs wrk to its end (killed past `limitMs`) and returns its stdout. */
function runWrk(args: readonly string[], env: NodeJS.ProcessEnv, limitMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', [...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(child);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    const guard = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(guard);
      reject(error.code === 'ENOENT' ? new Error('the warm benchmarks need wrk: apt-get install -y wrk') : error);
    });
    child.once('close', (code) => {
      clearTimeout(guard);
      if (code === 0) resolve(out);
      else reject(new Error(`wrk exited ${String(code)}: ${err.trim()}`));
    });
  });
}
