// Keep-alive HTTPS load with autocannon, timing every response exactly and measuring who used the CPU.
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { percentile, round } from './bench.ts';
import type { ServerProcess } from './processes.ts';

/** What one load run measured. */
export interface LoadResult {
  readonly connections: number;
  readonly seconds: number;
  /** 2xx answers per second over the run. */
  readonly rps: number;
  readonly requests: number;
  readonly non2xx: number;
  readonly errors: number;
  /** Latency percentiles in milliseconds, from every 2xx response of the run (not a bucketed histogram). */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  /** CPU the server process used, in % of one core (200 = both cores of this machine). */
  readonly serverCpu: number;
  /** CPU the load generator (this process) used, in % of one core. */
  readonly loadCpu: number;
}

/** Sends `body` with POST to `url` on `connections` keep-alive connections for `seconds`, one request in flight per connection. */
export async function runLoad(url: string, body: string, connections: number, seconds: number, server: ServerProcess): Promise<LoadResult> {
  const latencies: number[] = [];
  let non2xx = 0;
  const serverBefore = server.cpuMs();
  const loadBefore = process.cpuUsage();
  const started = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        connections,
        pipelining: 1,
        duration: seconds,
        timeout: 10,
      },
      (error: unknown, done: autocannon.Result) => {
        clearTimeout(guard);
        if (error !== null && error !== undefined) reject(error instanceof Error ? error : new Error(String(error)));
        else resolve(done);
      },
    );
    instance.on('response', (_client, statusCode, _bytes, ms) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(ms);
      else non2xx += 1;
    });
    // autocannon stops by itself after `seconds`; this only guards against it never calling back.
    const guard = setTimeout(() => {
      instance.stop();
    }, (seconds + 15) * 1000);
  });
  const wallMs = performance.now() - started;
  const loadUsage = process.cpuUsage(loadBefore);
  const serverMs = server.cpuMs() - serverBefore;
  const elapsedS = result.duration > 0 ? result.duration : wallMs / 1000;
  return {
    connections,
    seconds: round(elapsedS, 2),
    rps: round(latencies.length / elapsedS, 0),
    requests: latencies.length,
    non2xx,
    errors: result.errors,
    p50: round(percentile(latencies, 50), 3),
    p90: round(percentile(latencies, 90), 3),
    p99: round(percentile(latencies, 99), 3),
    max: round(latencies.reduce((a, b) => Math.max(a, b), 0), 3),
    serverCpu: round((serverMs / wallMs) * 100, 0),
    loadCpu: round(((loadUsage.user + loadUsage.system) / 1000 / wallMs) * 100, 0),
  };
}
