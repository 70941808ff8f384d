// Runs `tagpin serve` as a real process for integration tests, and talks to it over HTTPS.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { killOnExit, releaseDir, removeOnExit } from './exit-cleanup.ts';
import { PROXY_VARIABLES } from './http-proxy.ts';
import { repoRoot } from './paths.ts';
import { freePort } from './ports.ts';
import type { AdmissionAnswer } from './reviews.ts';

// The review builders used to live here; e2e, chart and bench tests still import them from this module.
export { FIXTURE_IMAGES, admissionReview, fixture, patchOf, pushFixtureImages, replaceStrings } from './reviews.ts';
export type { AdmissionAnswer, LocalImages, ReviewFields } from './reviews.ts';

/** One JSON line the server wrote to stdout. */
export type LogLine = Readonly<Record<string, unknown>>;

/** An HTTP answer, with the body parsed as JSON when it is JSON. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
  readonly json: unknown;
}

/** Options of `startServe`. */
export interface ServeOptions {
  /** Configuration, written as the YAML file given to `--config`; `server.metricsPort`, and `server.port` unless given, are free ports. */
  readonly config?: Readonly<Record<string, unknown>>;
  /**
   * Extra environment (e.g. KUBECONFIG). KUBECONFIG, KUBERNETES_SERVICE_HOST and the proxy variables
   * (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, lower case too) are cleared unless given here.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** PEM of the CA that signed `server.tlsCert`; without it the client accepts any certificate (the self-signed one). */
  readonly ca?: string;
  /** The script Node runs instead of `src/main.ts` (the built bundle, say). */
  readonly script?: string;
  /** The program (and arguments before `serve`) to run instead of Node with `script`: an installed tagpin. */
  readonly command?: readonly string[];
}

/** A running `tagpin serve`. */
export interface TagpinServer {
  readonly pid: number;
  /** HTTPS port of the webhooks. */
  readonly port: number;
  /** Plain HTTP port of /metrics. */
  readonly metricsPort: number;
  /** `https://127.0.0.1:PORT` */
  readonly url: string;
  /** Every JSON line written to stdout so far. */
  lines(): readonly LogLine[];
  /** The lines with `"logger":"audit"`. */
  auditLines(): readonly LogLine[];
  /** Waits for the audit line of review `uid` at `webhook` (it is written as the answer leaves, so it may trail it). */
  auditFor(uid: string, webhook?: 'mutate' | 'validate'): Promise<LogLine>;
  /** Waits for a line matching `predicate` (already written or still to come). */
  waitForLine(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Waits until `count` audit lines match `predicate` and returns those written so far; audit lines may trail the answers. */
  auditWhere(predicate: (line: LogLine) => boolean, count?: number, timeoutMs?: number): Promise<readonly LogLine[]>;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Sends `body` (an object is sent as JSON) to `path` with POST. */
  post(path: string, body: unknown, headers?: Readonly<Record<string, string>>): Promise<HttpAnswer>;
  get(path: string): Promise<HttpAnswer>;
  /** Sends an AdmissionReview to `/mutate` or `/validate` and returns the answer, failing unless it is HTTP 200. */
  review(webhook: 'mutate' | 'validate', review: unknown): Promise<AdmissionAnswer>;
  /** The Prometheus text from the metrics port. */
  metrics(): Promise<string>;
  /** Sends a signal to the process. */
  kill(signal: NodeJS.Signals): void;
  /** Resolves when the process has exited. */
  exited(): Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after 10 s; removes the temp directory. Safe to call twice. */
  stop(): Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>;
}

const startAttempts = 3;
const startTimeoutMs = 20_000;

/** Starts `node src/main.ts serve --config FILE` and waits for its `listening` line. Call `stop()` in `after()`. */
export async function startServe(options: ServeOptions = {}): Promise<TagpinServer> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= startAttempts; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      lastError = error;
      // Free ports are picked before the process binds them; another process may have won the race.
      if (!String(error).includes('address already in use')) throw error;
    }
  }
  throw lastError;
}

async function startOnce(options: ServeOptions): Promise<TagpinServer> {
  const dir = await mkdtemp(join(tmpdir(), 'tagpin-serve-'));
  removeOnExit(dir);
  const configFile = join(dir, 'config.yaml');
  const given = options.config ?? {};
  const server = (given['server'] ?? {}) as Readonly<Record<string, unknown>>;
  const config = { ...given, server: { ...server, port: server['port'] ?? (await freePort()), metricsPort: await freePort() } };
  await writeFile(configFile, stringify(config));

  const cleared = new Set<string>(['KUBECONFIG', 'KUBERNETES_SERVICE_HOST', 'TAGPIN_CONFIG', ...PROXY_VARIABLES]);
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !cleared.has(key)) env[key] = value;
  }
  Object.assign(env, options.env ?? {});
  const [program = process.execPath, ...prefix] = options.command ?? [process.execPath, options.script ?? 'src/main.ts'];
  const child = spawn(program, [...prefix, 'serve', '--config', configFile], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);

  const lines: LogLine[] = [];
  const waiters = new Set<{ predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  let stderr = '';
  let partial = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) {
      if (text.trim() === '') continue;
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { unparsed: text };
      }
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.predicate(line)) {
          waiters.delete(waiter);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
    });
  });

  const waitForLine = async (predicate: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> => {
    const seen = lines.find(predicate);
    if (seen !== undefined) return seen;
    let waiter: { predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void } | undefined;
    const found = new Promise<LogLine>((resolve) => {
      waiter = { predicate, resolve };
      waiters.add(waiter);
    });
    const cancel = new AbortController();
    const timeout = sleep(timeoutMs, undefined, { signal: cancel.signal }).catch(() => undefined);
    const result = await Promise.race([found, timeout, exit.then(() => undefined)]);
    cancel.abort();
    if (waiter !== undefined) waiters.delete(waiter);
    if (result === undefined) {
      throw new Error(`tagpin serve wrote no matching line within ${String(timeoutMs)} ms; stderr: ${stderr.trim()}`);
    }
    return result;
  };

  let listening: LogLine;
  try {
    listening = await waitForLine((line) => line['msg'] === 'listening', startTimeoutMs);
  } catch (error) {
    child.kill('SIGKILL');
    await exit;
    await rm(dir, { recursive: true, force: true });
    releaseDir(dir);
    throw new Error(`tagpin serve did not start: ${stderr.trim() || String(error)}`);
  }
  const port = listening['port'] as number;
  const metricsPort = listening['metricsPort'] as number;
  const url = `https://127.0.0.1:${String(port)}`;
  const agent = new Agent({
    connect: options.ca === undefined ? { rejectUnauthorized: false } : { ca: options.ca, servername: 'localhost' },
  });

  const send = async (method: 'GET' | 'POST', path: string, body?: unknown, headers: Readonly<Record<string, string>> = {}): Promise<HttpAnswer> => {
    const isRaw = typeof body === 'string' || Buffer.isBuffer(body);
    const payload = body === undefined ? undefined : isRaw ? body : JSON.stringify(body);
    const answer = await request(`${url}${path}`, {
      method,
      dispatcher: agent,
      headers: { ...(isRaw || body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(payload === undefined ? {} : { body: payload }),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const text = await answer.body.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: answer.statusCode, headers: answer.headers, text, json };
  };

  let stopped: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  return {
    pid: child.pid ?? 0,
    port,
    metricsPort,
    url,
    lines: () => [...lines],
    auditLines: () => lines.filter((line) => line['logger'] === 'audit'),
    auditFor: (uid, webhook = 'mutate') =>
      waitForLine((line) => line['logger'] === 'audit' && line['uid'] === uid && line['webhook'] === webhook),
    waitForLine,
    async auditWhere(predicate, count = 1, timeoutMs = 10_000) {
      const matches = (line: LogLine): boolean => line['logger'] === 'audit' && predicate(line);
      const found = new Set<LogLine>();
      while (found.size < count) found.add(await waitForLine((line) => matches(line) && !found.has(line), timeoutMs));
      return lines.filter(matches);
    },
    stderr: () => stderr,
    post: (path, body, headers) => send('POST', path, body, headers),
    get: (path) => send('GET', path),
    async review(webhook, review) {
      const answer = await send('POST', `/${webhook}`, review);
      if (answer.status !== 200) throw new Error(`/${webhook} answered HTTP ${String(answer.status)}: ${answer.text}`);
      return answer.json as AdmissionAnswer;
    },
    async metrics() {
      const answer = await request(`http://127.0.0.1:${String(metricsPort)}/metrics`, { headersTimeout: 10_000, bodyTimeout: 10_000 });
      return answer.body.text();
    },
    kill(signal) {
      child.kill(signal);
    },
    exited: () => exit,
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exit;
          clearTimeout(timer);
        }
        await agent.close().catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
        releaseDir(dir);
        return exit;
      })();
      return stopped;
    },
  };
}
