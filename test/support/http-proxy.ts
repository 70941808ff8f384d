// Runs Debian's tinyproxy on 127.0.0.1 as the HTTP proxy of proxy tests, and reads what it was asked from its log.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { killOnExit, releaseDir, removeOnExit, terminate } from './exit-cleanup.ts';
import type { Pki } from './pki.ts';
import { freePort } from './ports.ts';

/**
 * The proxy variables tagpin reads. A test process may have them from its shell, and tagpin would then
 * send the tests' loopback requests there: `runCli` and `startServe` clear them unless a test sets them.
 */
export const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'] as const;

/** One request tinyproxy logged. */
export interface ProxiedRequest {
  /** `CONNECT` for a tunnel, else the method of a request sent through (`GET`, `HEAD`). */
  readonly method: string;
  /** `127.0.0.1:5000` for CONNECT; the absolute URL otherwise (`http://127.0.0.1:5000/v2/`). */
  readonly target: string;
}

/** A running tinyproxy. */
export interface HttpProxy {
  /** `127.0.0.1:PORT` (of the TLS front, for a `tls` proxy) */
  readonly host: string;
  /** `http://127.0.0.1:PORT` (`https://` for a `tls` proxy), with the user and password when the proxy wants them. */
  readonly url: string;
  /** basicAuth: what tinyproxy accepts (random per run). */
  readonly username?: string;
  readonly password?: string;
  /** Every request logged so far; complete for every answer a client has received (logged before tinyproxy connects on). */
  requests(): readonly ProxiedRequest[];
  /** The `host:port` of every CONNECT so far. */
  tunnels(): readonly string[];
  /** SIGTERM (SIGKILL after 2 s), then removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** Options of `startHttpProxy`. */
export interface HttpProxyOptions {
  /** Demand `Proxy-Authorization: Basic` (tinyproxy's `BasicAuth`) with a random user and password. @default false */
  readonly basicAuth?: boolean;
  /** Ports CONNECT may reach (tinyproxy's `ConnectPort`); others get 403. @default every port */
  readonly connectPorts?: readonly number[];
  /**
   * Serve the proxy over TLS (an `https://` proxy URL) with a certificate from this CA: tinyproxy speaks
   * plain HTTP only, so a small Node process in front of it terminates TLS and pipes each connection on.
   * @default plain HTTP
   */
  readonly tls?: Pki;
}

/** The TLS front of an https:// proxy: argv cert, key, tinyproxy's port; prints "listening PORT". */
const tlsFrontScript = `
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createServer } from 'node:tls';
const [cert, key, port] = process.argv.slice(2);
const server = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (client) => {
  const upstream = connect(Number(port), '127.0.0.1');
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.pipe(upstream).pipe(client);
});
server.listen(0, '127.0.0.1', () => process.stdout.write('listening ' + server.address().port + '\\n'));
`;

const binary = 'tinyproxy';
const installHint = 'install it: `apt-get install -y tinyproxy` (or bash .ci/run)';
const startAttempts = 5;
const readyTimeoutMs = 10_000;

/** Starts tinyproxy on a free port of 127.0.0.1 and waits until it accepts connections. Call `stop()` in `after()`. */
export async function startHttpProxy(options: HttpProxyOptions = {}): Promise<HttpProxy> {
  if (spawnSync(binary, ['-v'], { stdio: 'ignore', timeout: 10_000 }).error !== undefined) {
    throw new Error(`proxy tests need \`${binary}\`, which is not installed: ${installHint}`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'tagpin-proxy-'));
  removeOnExit(dir);
  const logFile = join(dir, 'tinyproxy.log');
  const username = options.basicAuth === true ? 'tagpin-proxy' : undefined;
  const password = options.basicAuth === true ? randomBytes(12).toString('hex') : undefined;
  try {
    for (let attempt = 1; attempt <= startAttempts; attempt++) {
      const port = await freePort();
      const configFile = join(dir, 'tinyproxy.conf');
      await writeFile(configFile, configText(port, logFile, username, password, options.connectPorts ?? []));
      await writeFile(logFile, '');
      const started = await launch(configFile, logFile, port);
      if (started === 'port-taken') continue;
      let front: { readonly child: ChildProcess; readonly port: number } | undefined;
      try {
        front = options.tls === undefined ? undefined : await launchTlsFront(options.tls, dir, port);
      } catch (error) {
        await terminate(started);
        throw error;
      }
      return running({ tinyproxy: started, front: front?.child }, dir, logFile, front?.port ?? port, username, password, front === undefined ? 'http' : 'https');
    }
    throw new Error(`tinyproxy found no free port in ${String(startAttempts)} attempts`);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    releaseDir(dir);
    throw error;
  }
}

function configText(port: number, logFile: string, username?: string, password?: string, connectPorts: readonly number[] = []): string {
  return [
    `Port ${String(port)}`,
    'Listen 127.0.0.1',
    `LogFile "${logFile}"`,
    // Connect level logs each request line, and nothing of its headers (credentials stay out).
    'LogLevel Connect',
    'MaxClients 100',
    'Timeout 60',
    'Allow 127.0.0.1',
    ...(username === undefined || password === undefined ? [] : [`BasicAuth ${username} ${password}`]),
    ...connectPorts.map((p) => `ConnectPort ${String(p)}`),
    '',
  ].join('\n');
}

/** Spawns tinyproxy in the foreground; resolves with the process once the port accepts, or 'port-taken'. */
async function launch(configFile: string, logFile: string, port: number): Promise<ChildProcess | 'port-taken'> {
  let output = '';
  const child = spawn(binary, ['-d', '-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      output += chunk;
    });
  }
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const spawnError = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => {
      resolve(undefined);
    });
    child.once('error', resolve);
  });
  if (spawnError !== undefined) throw new Error(`tinyproxy did not start: ${spawnError.message}; ${installHint}`);
  killOnExit(child);
  const giveUpAt = Date.now() + readyTimeoutMs;
  while (Date.now() < giveUpAt) {
    if (exited) {
      if (output.includes('Could not create listening sockets')) return 'port-taken';
      throw new Error(`tinyproxy exited at start: ${output.trim()} ${readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' ')}`);
    }
    if (await accepts(port)) return child;
    await sleep(20);
  }
  await terminate(child);
  throw new Error(`tinyproxy did not accept connections on 127.0.0.1:${String(port)} within ${String(readyTimeoutMs)} ms`);
}

/** Starts the TLS front for tinyproxy on `port`; resolves once it prints the port it listens on. */
async function launchTlsFront(pki: Pki, dir: string, port: number): Promise<{ readonly child: ChildProcess; readonly port: number }> {
  const script = join(dir, 'tls-front.mjs');
  await writeFile(script, tlsFrontScript);
  const issued = await pki.issue('tagpin-test-proxy', []);
  const child = spawn(process.execPath, [script, issued.certFile, issued.keyFile, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(child);
  let output = '';
  const listening = await new Promise<number | undefined>((resolve) => {
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      output += chunk;
      const match = /listening (\d+)\n/.exec(output);
      if (match?.[1] !== undefined) resolve(Number(match[1]));
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      output += chunk;
    });
    child.once('exit', () => {
      resolve(undefined);
    });
    child.once('error', () => {
      resolve(undefined);
    });
  });
  if (listening === undefined) throw new Error(`the proxy's TLS front did not start: ${output.trim()}`);
  return { child, port: listening };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

function running(
  processes: { readonly tinyproxy: ChildProcess; readonly front: ChildProcess | undefined },
  dir: string,
  logFile: string,
  port: number,
  username: string | undefined,
  password: string | undefined,
  scheme: 'http' | 'https',
): HttpProxy {
  const host = `127.0.0.1:${String(port)}`;
  const credentials = username === undefined || password === undefined ? '' : `${username}:${password}@`;
  const requests = (): ProxiedRequest[] => {
    const found: ProxiedRequest[] = [];
    for (const line of readFileSync(logFile, 'utf8').split('\n')) {
      const match = /Request \(file descriptor \d+\): (\S+) (\S+) HTTP\/\d\.\d/.exec(line);
      if (match?.[1] !== undefined && match[2] !== undefined) found.push({ method: match[1], target: match[2] });
    }
    return found;
  };
  let stopped: Promise<void> | undefined;
  return {
    host,
    url: `${scheme}://${credentials}${host}`,
    ...(username === undefined || password === undefined ? {} : { username, password }),
    requests,
    tunnels: () => requests().filter((r) => r.method === 'CONNECT').map((r) => r.target),
    stop: () =>
      (stopped ??= (async () => {
        if (processes.front !== undefined) await terminate(processes.front);
        await terminate(processes.tinyproxy);
        await rm(dir, { recursive: true, force: true });
        releaseDir(dir);
      })()),
  };
}
