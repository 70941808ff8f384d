// A reverse proxy on 127.0.0.1 that holds every request for a fixed time before passing it to the registry,
// standing in for a registry across a WAN; it counts what passes, by method.
import { Agent as HttpAgent, request as httpRequest, createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, RequestOptions, ServerResponse } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A running proxy. */
export interface DelayProxy {
  /** "127.0.0.1:PORT", to use as the registry host in image references. */
  readonly host: string;
  /** Requests seen so far, by method and path kind (`HEAD manifests`, `GET v2`, …). */
  counts(): Readonly<Record<string, number>>;
  close(): Promise<void>;
}

/** TLS on both sides: the proxy serves `cert`/`key` and trusts `ca` for the upstream registry. */
export interface ProxyTls {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/**
 * Proxies to `upstream` (`http://127.0.0.1:PORT`, or `https://…` with `tls`), delaying each request by
 * `delayMs`. Only requests are delayed, not connection set-up, so a TLS handshake costs no extra time.
 */
export async function startDelayProxy(upstream: string, delayMs: number, tls?: ProxyTls): Promise<DelayProxy> {
  const target = new URL(upstream);
  if (target.hostname !== '127.0.0.1' || target.protocol !== (tls === undefined ? 'http:' : 'https:')) {
    throw new Error(`the delay proxy forwards to 127.0.0.1 only, over https exactly when given TLS settings (got ${upstream})`);
  }
  const agent = tls === undefined ? new HttpAgent({ keepAlive: true, maxSockets: 256 }) : new HttpsAgent({ keepAlive: true, maxSockets: 256, ca: tls.ca });
  const send = (options: RequestOptions): ReturnType<typeof httpRequest> => (tls === undefined ? httpRequest(options) : httpsRequest(options));
  const counts: Record<string, number> = {};

  const forward = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = req.url ?? '/';
    const kind = /\/manifests\//.test(path) ? 'manifests' : /\/blobs\//.test(path) ? 'blobs' : 'v2';
    const key = `${req.method ?? 'GET'} ${kind}`;
    counts[key] = (counts[key] ?? 0) + 1;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    await sleep(delayMs);
    const upstreamReq = send({
      host: target.hostname,
      port: target.port,
      method: req.method,
      path,
      headers: { ...req.headers, host: target.host },
      agent,
    });
    upstreamReq.setTimeout(30_000, () => upstreamReq.destroy(new Error('upstream timed out')));
    upstreamReq.on('response', (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
      upstreamRes.pipe(res);
    });
    upstreamReq.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    upstreamReq.end(Buffer.concat(chunks));
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    forward(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
  };
  const server = tls === undefined ? createHttpServer(handle) : createHttpsServer({ cert: tls.cert, key: tls.key }, handle);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${String(port)}`,
    counts: () => ({ ...counts }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => {
        resolve();
      }));
      agent.destroy();
    },
  };
}
