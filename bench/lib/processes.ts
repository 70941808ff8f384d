// Runs `tagpin serve` and the bare baseline server as separate processes, and reads their CPU time and RSS.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { killOnExit, releaseDir, removeOnExit } from '../../test/support/exit-cleanup.ts';
import { repoRoot } from './bench.ts';

/** A server process under measurement. */
export interface ServerProcess {
  readonly pid: number;
  /** `https://127.0.0.1:PORT` */
  readonly url: string;
  /** CPU time (user + system) the process has used so far, in milliseconds. */
  cpuMs(): number;
  /** Resident set size now, in MiB (VmRSS). */
  rssMiB(): number;
  /** The file-backed part of it (RssFile): pages of the node binary and shared libraries the process has touched. */
  rssFileMiB(): number;
  /** Everything the process wrote to stderr so far. */
  stderr(): Promise<string>;
  /** SIGTERM, SIGKILL after 10 s; removes its temp directory. */
  stop(): Promise<void>;
}

/** A running `tagpin serve`. */
export interface TagpinProcess extends ServerProcess {
  readonly metricsUrl: string;
  /** The Prometheus text of /metrics. */
  metrics(): Promise<string>;
}

const startTimeoutMs = 30_000;
const clockTicks = readClockTicks();

/** Extra Node options for every `tagpin serve` a benchmark starts (BENCH_TAGPIN_NODE_ARGS, space-separated), to try runtime flags. */
export function tagpinNodeArgs(): readonly string[] {
  return (process.env.BENCH_TAGPIN_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
}

/** Extra environment for every `tagpin serve` a benchmark starts (BENCH_TAGPIN_ENV, `NAME=value,…`), to try runtime settings. */
export function tagpinEnv(): Readonly<Record<string, string>> {
  const pairs = (process.env.BENCH_TAGPIN_ENV ?? '').split(',').filter((pair) => pair.includes('='));
  return Object.fromEntries(pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

let bundle: Promise<string> | undefined;

/**
 * The script a benchmark's `tagpin serve` runs: the JavaScript bundle that ships (built once per
 * benchmark process by `scripts/build.ts` into a temp dir), or with BENCH_TAGPIN=src the TypeScript
 * sources as development runs them.
 */
export function tagpinScript(): Promise<string> {
  if (process.env.BENCH_TAGPIN === 'src') return Promise.resolve('src/main.ts');
  return builtBundle();
}

/** Builds the bundle once per process into a temp dir (removed at exit) and returns its entry. */
export function builtBundle(): Promise<string> {
  bundle ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tagpin-bench-dist-'));
    removeOnExit(dir);
    execFileSync(process.execPath, ['scripts/build.ts', '--outdir', dir], { cwd: repoRoot, stdio: 'ignore', timeout: 120_000 });
    return join(dir, 'tagpin.js');
  })();
  return bundle;
}

/**
 * Starts `tagpin serve` (tagpinScript()) with `config` (ports filled in). Its stdout (audit and server log
 * lines) goes to a file, as a container runtime would take it, so reading it costs the benchmark nothing.
 */
export async function startTagpin(
  config: Readonly<Record<string, unknown>>,
  nodeArgs: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
): Promise<TagpinProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'tagpin-bench-serve-'));
  removeOnExit(dir);
  const port = await freePort();
  const metricsPort = await freePort();
  const server = (config['server'] ?? {}) as Readonly<Record<string, unknown>>;
  const configFile = join(dir, 'config.yaml');
  await writeFile(configFile, stringify({ ...config, server: { ...server, port, metricsPort } }));
  const child = spawnLogged(process.execPath, [...tagpinNodeArgs(), ...nodeArgs, await tagpinScript(), 'serve', '--config', configFile], dir, {
    ...cleanEnv(),
    ...env,
    ...tagpinEnv(),
  });
  const url = `https://127.0.0.1:${String(port)}`;
  const base = await waitReady(child, dir, url);
  const metricsUrl = `http://127.0.0.1:${String(metricsPort)}/metrics`;
  return {
    ...base,
    metricsUrl,
    async metrics() {
      const answer = await request(metricsUrl, { headersTimeout: 10_000, bodyTimeout: 10_000 });
      return answer.body.text();
    },
  };
}

/** Which baseline `startBaseline` runs: bare node:https, or express with express.json. */
export type BaselineMode = 'bare' | 'express';

/** Starts a warm-path baseline (bench/lib/bare-server.ts) answering every review with `answerFile`'s response. */
export async function startBaseline(
  mode: BaselineMode,
  tls: { readonly certFile: string; readonly keyFile: string },
  answerFile: string,
  nodeArgs: readonly string[] = [],
): Promise<ServerProcess> {
  const dir = await mkdtemp(join(tmpdir(), `tagpin-bench-${mode}-`));
  removeOnExit(dir);
  const port = await freePort();
  const script = join(repoRoot, 'bench', 'lib', 'bare-server.ts');
  const child = spawnLogged(process.execPath, [...nodeArgs, script, String(port), tls.certFile, tls.keyFile, answerFile, mode], dir, cleanEnv());
  return waitReady(child, dir, `https://127.0.0.1:${String(port)}`);
}

function spawnLogged(program: string, args: readonly string[], dir: string, env: NodeJS.ProcessEnv): ChildProcess {
  const out = openSync(join(dir, 'stdout.log'), 'w');
  const err = openSync(join(dir, 'stderr.log'), 'w');
  try {
    const child = spawn(program, [...args], { cwd: repoRoot, env, stdio: ['ignore', out, err] });
    killOnExit(child);
    return child;
  } finally {
    closeSync(out);
    closeSync(err);
  }
}

/** Polls `/readyz` until it answers 200 (both servers serve it), then returns the handle. */
async function waitReady(child: ChildProcess, dir: string, url: string): Promise<ServerProcess> {
  const pid = child.pid ?? 0;
  const exit = new Promise<void>((resolve) => child.once('exit', () => {
    resolve();
  }));
  let exited = false;
  void exit.then(() => {
    exited = true;
  });
  const agent = new Agent({ connect: { rejectUnauthorized: false } });
  const stderr = (): Promise<string> => readFile(join(dir, 'stderr.log'), 'utf8').catch(() => '');
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exit;
        clearTimeout(timer);
      }
      await agent.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      releaseDir(dir);
    })());

  const deadline = Date.now() + startTimeoutMs;
  for (let attempt = 0; Date.now() < deadline && attempt < 3_000; attempt++) {
    if (exited) {
      const message = (await stderr()).trim().split('\n').slice(-3).join(' | ');
      await stop();
      throw new Error(`server process exited while starting: ${message}`);
    }
    try {
      const answer = await request(`${url}/readyz`, { dispatcher: agent, headersTimeout: 1_000, bodyTimeout: 1_000 });
      await answer.body.dump();
      if (answer.statusCode === 200) {
        await agent.close();
        return { pid, url, cpuMs: () => cpuMsOf(pid), rssMiB: () => rssMiBOf(pid), rssFileMiB: () => statusMiB(pid, 'RssFile'), stderr, stop };
      }
    } catch {
      // Not listening yet.
    }
    await sleep(10);
  }
  await stop();
  throw new Error(`server at ${url} was not ready within ${String(startTimeoutMs)} ms`);
}

/** The environment without cluster settings, so `tagpin serve` never tries to reach a Kubernetes API. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'KUBECONFIG' || key === 'KUBERNETES_SERVICE_HOST' || key === 'TAGPIN_CONFIG' || key === 'TAGPIN_DEBUG') continue;
    env[key] = value;
  }
  env['TAGPIN_LOG_LEVEL'] = 'info';
  return env;
}

/** CPU time (user + system) of process `pid` in milliseconds, from /proc/PID/stat. */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  // The command name may hold spaces; the fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / clockTicks;
}

/** CPU time (user + system) of this process's children that have exited and been waited for, in milliseconds. */
export function exitedChildrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / clockTicks;
}

/** Resident set size of process `pid` in MiB, from /proc/PID/status. */
export function rssMiBOf(pid: number): number {
  return statusMiB(pid, 'VmRSS');
}

/** A `NAME: N kB` line of /proc/PID/status, in MiB. */
function statusMiB(pid: number, name: string): number {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status);
  return match === null ? Number.NaN : Number(match[1]) / 1024;
}

function readClockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5_000 }).trim()) || 100;
  } catch {
    return 100;
  }
}

/** A TCP port nothing listens on right now (the process that binds it later may still lose a race). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => {
    resolve();
  }));
  return port;
}
