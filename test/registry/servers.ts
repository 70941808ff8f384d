// Small node:http servers placed in front of the real registry: redirectors, header rewriters, stalls.
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import type { Credential, Keyring } from '../../src/credentials/index.ts';

/** A server on 127.0.0.1 with the requests it saw. */
export interface LocalServer {
  /** "127.0.0.1:PORT" */
  readonly host: string;
  readonly seen: Array<{ readonly method: string; readonly path: string; readonly headers: IncomingHttpHeaders }>;
  close(): Promise<void>;
}

/** Starts a node:http server on a free loopback port; every request is recorded before `handle` runs. */
export async function startServer(handle: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>): Promise<LocalServer> {
  const seen: LocalServer['seen'] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    Promise.resolve(handle(req, res)).catch(() => {
      res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
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
  return { lookup: (image) => (image.startsWith(`${host}/`) ? credentials : []) };
}
