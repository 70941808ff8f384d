// A reverse proxy on 127.0.0.1 that holds every request for a fixed time before passing it to the registry,
// standing in for a registry across a WAN; it counts what passes, by method.
import { Agent, request as httpRequest, createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
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

/** Proxies plain HTTP to `upstream` (an `http://127.0.0.1:PORT` registry), delaying each request by `delayMs`. */
export async function startDelayProxy(upstream: string, delayMs: number): Promise<DelayProxy> {
  const target = new URL(upstream);
  if (target.protocol !== 'http:' || target.hostname !== '127.0.0.1') throw new Error(`the delay proxy forwards to http://127.0.0.1 only (got ${upstream})`);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const counts: Record<string, number> = {};

  const forward = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = req.url ?? '/';
    const kind = /\/manifests\//.test(path) ? 'manifests' : /\/blobs\//.test(path) ? 'blobs' : 'v2';
    const key = `${req.method ?? 'GET'} ${kind}`;
    counts[key] = (counts[key] ?? 0) + 1;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    await sleep(delayMs);
    const upstreamReq = httpRequest({
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

  const server: Server = createServer((req, res) => {
    forward(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
  });
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
