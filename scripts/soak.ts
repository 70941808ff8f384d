// A soak of `tagpin serve` on loopback: high-concurrency /mutate of cached images for a bounded time, reporting
// errors, throughput, latency and the server's memory (first third against last third).
// Usage: node scripts/soak.ts [--seconds 60] [--warmup 20] [--concurrency 64] [--max-requests 3000000]
// The warm-up runs the same load unmeasured: V8 grows its heap spaces to a new load's size once, which is
// not a leak and would otherwise dominate the first third.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { killOnExit } from '../test/support/exit-cleanup.ts';
import { startRegistry } from '../test/support/registry.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '64' },
    'max-requests': { type: 'string', default: '3000000' },
  },
});
const seconds = bounded('seconds', values.seconds, 1, 3600);
const warmup = bounded('warmup', values.warmup, 0, 600);
const concurrency = bounded('concurrency', values.concurrency, 1, 1024);
const maxRequests = bounded('max-requests', values['max-requests'], 1, 100_000_000);
/** Memory is flat when the last third's median RSS, and heap in use, are within this of the first third's. */
const FLAT_TOLERANCE = 0.1;

function bounded(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be an integer from ${String(min)} to ${String(max)} (got ${text})`);
  return value;
}

const repoRoot = new URL('../', import.meta.url).pathname;
const registry = await startRegistry('http');
const dir = await mkdtemp(join(tmpdir(), 'tagpin-soak-'));
let exitCode = 0;
try {
  const images = [`${registry.host}/demo/app:v1`, `${registry.host}/demo/web:v2`];
  await registry.push('demo/app', 'v1', 'oci-manifest');
  await registry.push('demo/web', 'v2', 'oci-index');

  const [port, metricsPort] = [await freePort(), await freePort()];
  const configFile = join(dir, 'config.yaml');
  await writeFile(configFile, stringify({
    registries: { insecure: [registry.host], allow: [registry.host] },
    server: { port, metricsPort },
  }));
  // The audit log (one line per admission) goes to /dev/null: the soak measures the server, not a log reader.
  const child = spawn(process.execPath, ['src/main.ts', 'serve', '--config', configFile], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
  killOnExit(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const pid = child.pid ?? 0;
  const agent = new Agent({ connections: concurrency, connect: { rejectUnauthorized: false } });
  const url = `https://127.0.0.1:${String(port)}`;
  await waitUntilHealthy(url, agent);

  const review = (uid: string): string => JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      operation: 'CREATE',
      namespace: 'soak',
      userInfo: { username: 'soak' },
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'soak' }, spec: { containers: images.map((image, i) => ({ name: `c${String(i)}`, image })) } },
    },
  });
  // Warm the cache: the soak is about answering from it.
  await send(url, agent, review('warm-up'));

  const latencies: number[] = [];
  const errors = new Map<string, number>();
  let sent = 0;
  let ok = 0;
  /** Runs the load for `phaseSeconds`; only a measured phase counts requests, errors and latency. */
  const load = async (phaseSeconds: number, measured: boolean): Promise<void> => {
    const deadline = performance.now() + phaseSeconds * 1000;
    let warm = 0;
    const worker = async (id: number): Promise<void> => {
      while (performance.now() < deadline && sent < maxRequests) {
        const uid = `soak-${measured ? 'm' : 'w'}-${String(id)}-${String(measured ? ++sent : ++warm)}`;
        const t0 = performance.now();
        try {
          const problem = await send(url, agent, review(uid));
          if (!measured) continue;
          if (problem === undefined) {
            ok += 1;
            if (ok % 10 === 0) latencies.push(performance.now() - t0);
          } else {
            errors.set(problem, (errors.get(problem) ?? 0) + 1);
          }
        } catch (error) {
          if (!measured) continue;
          const key = error instanceof Error ? `${(error as NodeJS.ErrnoException).code ?? error.name}: ${error.message}` : String(error);
          errors.set(key, (errors.get(key) ?? 0) + 1);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
  };

  await load(warmup, false);
  const samples: Sample[] = [];
  const started = performance.now();
  const sampler = setInterval(() => {
    const t = (performance.now() - started) / 1000;
    const rss = rssOf(pid);
    heapOf(metricsPort).then(
      (heap) => samples.push({ t, rss, heapUsed: heap }),
      () => samples.push({ t, rss, heapUsed: undefined }),
    );
  }, 1000);
  await load(seconds, true);
  clearInterval(sampler);
  const elapsed = (performance.now() - started) / 1000;
  samples.sort((a, b) => a.t - b.t);
  const rss = samples.map((x) => ({ t: x.t, bytes: x.rss }));
  const heaps = samples.map((x) => x.heapUsed).filter((h): h is number => h !== undefined);
  const heapThird = Math.max(1, Math.floor(heaps.length / 3));
  const heap = { first: median(heaps.slice(0, heapThird)), last: median(heaps.slice(-heapThird)) };

  const failed = [...errors.values()].reduce((a, b) => a + b, 0);
  latencies.sort((a, b) => a - b);
  const third = Math.max(1, Math.floor(rss.length / 3));
  const first = median(rss.slice(0, third).map((s) => s.bytes));
  const last = median(rss.slice(-third).map((s) => s.bytes));
  const growth = first === 0 ? 0 : (last - first) / first;
  const heapGrowth = heap.first === 0 ? 0 : (heap.last - heap.first) / heap.first;
  // RSS alone cannot tell a leak from the allocator settling at a load's high-water mark; live heap can.
  const flat = growth <= FLAT_TOLERANCE && heapGrowth <= FLAT_TOLERANCE;

  const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  const lines = [
    `soak: ${String(sent)} requests in ${elapsed.toFixed(1)} s at concurrency ${String(concurrency)} after ${String(warmup)} s of warm-up (bounds: ${String(seconds)} s, ${String(maxRequests)} requests)`,
    `  errors: ${String(failed)}${failed === 0 ? '' : ` — ${[...errors].map(([k, n]) => `${k} ×${String(n)}`).join('; ')}`}`,
    `  throughput: ${(ok / elapsed).toFixed(0)} req/s answered correctly`,
    `  latency (every 10th request): p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms, max ${percentile(latencies, 1).toFixed(1)} ms`,
    `  server RSS: first third median ${mib(first)}, last third median ${mib(last)} (${(growth * 100).toFixed(1)}%); min ${mib(Math.min(...rss.map((s) => s.bytes)))}, max ${mib(Math.max(...rss.map((s) => s.bytes)))}`,
    `  RSS samples (s: MiB): ${rss.filter((_, i) => i % 5 === 0).map((s) => `${s.t.toFixed(0)}: ${(s.bytes / 1024 / 1024).toFixed(0)}`).join(', ')}`,
    `  server heap used: first third median ${mib(heap.first)}, last third median ${mib(heap.last)} (${(heapGrowth * 100).toFixed(1)}%)`,
    `  memory: ${flat ? 'flat' : 'GROWING'} (tolerance ${String(FLAT_TOLERANCE * 100)}% on both)`,
    `  server stderr: ${stderr.trim() === '' ? 'empty' : stderr.trim().slice(0, 300)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (failed > 0 || !flat || stderr.trim() !== '') exitCode = 1;

  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  await agent.close();
} finally {
  await registry.stop();
  await rm(dir, { recursive: true, force: true });
}
process.exitCode = exitCode;

/** Sends one review; undefined when the answer is a correct pin of every image, else what was wrong. */
async function send(url: string, agent: Agent, body: string): Promise<string | undefined> {
  const answer = await request(`${url}/mutate`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/json' },
    body,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const text = await answer.body.text();
  if (answer.statusCode !== 200) return `HTTP ${String(answer.statusCode)}`;
  const response = (JSON.parse(text) as { response?: { allowed?: boolean; patch?: string } }).response;
  if (response?.allowed !== true || response.patch === undefined) return 'not patched';
  const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as unknown[];
  return patch.length === 2 ? undefined : `patch of ${String(patch.length)} operations`;
}

async function waitUntilHealthy(url: string, agent: Agent): Promise<void> {
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    try {
      const answer = await request(`${url}/healthz`, { dispatcher: agent, headersTimeout: 1000, bodyTimeout: 1000 });
      await answer.body.dump();
      if (answer.statusCode === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('tagpin serve did not become healthy within 20 s');
}

/** Resident set size of `pid` from /proc, in bytes; 0 when unreadable. */
function rssOf(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'));
    return match === null ? 0 : Number(match[1]) * 1024;
  } catch {
    return 0;
  }
}

/** One memory sample of the server. */
interface Sample {
  readonly t: number;
  readonly rss: number;
  readonly heapUsed: number | undefined;
}

/** V8 heap in use, from the server's own metrics. */
async function heapOf(port: number): Promise<number | undefined> {
  const answer = await request(`http://127.0.0.1:${String(port)}/metrics`, { headersTimeout: 2000, bodyTimeout: 2000 });
  const match = /^tagpin_nodejs_heap_size_used_bytes (\S+)$/m.exec(await answer.body.text());
  return match === null ? undefined : Number(match[1]);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))] ?? 0;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => {
    resolve();
  }));
  return port;
}
