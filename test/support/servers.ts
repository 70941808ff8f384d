// Small local servers for registry tests (HTTP or HTTPS, rewriting proxies, stalls, hostile stand-ins, one that never answers) and a one-host keyring.
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { Socket } from 'node:net';
import { request } from 'undici';
import type { Credential, Keyring } from '../../src/credentials/index.ts';
import { listen } from './ports.ts';

/** A server on 127.0.0.1 with the requests it saw. */
export interface LocalServer {
  /** "127.0.0.1:PORT" */
  readonly host: string;
  readonly seen: Array<{ readonly method: string; readonly path: string; readonly headers: IncomingHttpHeaders }>;
  close(): Promise<void>;
}

/** Options of `startServer`. */
export interface ServerOptions {
  /** Serve HTTPS with this certificate (from test/support/pki.ts) instead of plain HTTP. @default plain HTTP */
  readonly tls?: { readonly certPem: string; readonly keyPem: string };
}

/** Starts a node:http (or node:https) server on a free loopback port; every request is recorded before `handle` runs. */
export async function startServer(
  handle: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>,
  options: ServerOptions = {},
): Promise<LocalServer> {
  const seen: LocalServer['seen'] = [];
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    Promise.resolve(handle(req, res)).catch(() => {
      res.destroy();
    });
  };
  const server = options.tls === undefined ? createServer(listener) : createHttpsServer({ cert: options.tls.certPem, key: options.tls.keyPem }, listener);
  // Clients that refuse the certificate, or speak plain HTTP to it, are what some tests are about.
  server.on('tlsClientError', () => undefined);
  const { port } = await listen(server);
  return {
    host: `127.0.0.1:${String(port)}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** A response from the registry behind a proxy, which a test may rewrite before it reaches the client. */
export interface Upstream {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Forwards every request to `upstream` (a plain-HTTP registry) and lets `rewrite` change the answer.
 * Headers kept: content-type, docker-content-digest, retry-after, www-authenticate, location.
 */
export function proxyTo(
  upstream: string,
  rewrite: (answer: Upstream, method: string, path: string) => Upstream,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    const method = req.method === 'HEAD' ? 'HEAD' : 'GET';
    const forwarded = await request(`${upstream}${req.url ?? '/'}`, {
      method,
      headers: { accept: req.headers.accept ?? '*/*', 'user-agent': 'tagpin-test-proxy' },
    });
    const body = Buffer.from(await forwarded.body.arrayBuffer());
    const headers: Record<string, string> = {};
    for (const name of ['content-type', 'docker-content-digest', 'content-length', 'retry-after', 'www-authenticate', 'location']) {
      const value = forwarded.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const answer = rewrite({ status: forwarded.statusCode, headers, body }, method, req.url ?? '/');
    if (method === 'GET') answer.headers['content-length'] = String(answer.body.length);
    res.writeHead(answer.status, answer.headers);
    res.end(method === 'GET' ? answer.body : undefined);
  };
}

/** A keyring that offers `credentials` for every image on `host`, and nothing elsewhere. */
export function keyringFor(host: string, ...credentials: Credential[]): Keyring {
  return { lookup: (image) => Promise.resolve(image.startsWith(`${host}/`) ? credentials : []) };
}

/** A TCP server that accepts connections and never answers: a registry that hangs. */
export interface SilentServer {
  /** "127.0.0.1:PORT" */
  readonly host: string;
  /** Connections on which a request arrived. */
  asked(): number;
  /**
   * Of those, the ones still open. The server never closes a connection itself, so every other one was
   * closed by the client. (A connection on which nothing was sent is not counted: undici may open a spare
   * one after an aborted request, nodejs/undici#5845.)
   */
  stillAsking(): number;
  /** Stops accepting (new connections are refused) and closes the open ones. */
  close(): Promise<void>;
}

/** Starts a silent server on a free loopback port. */
export async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  const asking = new Set<Socket>();
  let asked = 0;
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('data', () => {
      asked += 1;
      asking.add(socket);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      asking.delete(socket);
    });
  });
  const { port } = await listen(server);
  let closed: Promise<void> | undefined;
  return {
    host: `127.0.0.1:${String(port)}`,
    asked: () => asked,
    stillAsking: () => asking.size,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        for (const socket of sockets) socket.destroy();
      });
      return closed;
    },
  };
}
