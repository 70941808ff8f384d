// A fault-injecting HTTP(S) proxy between tagpin and the real registry, recording every exchange and how it ended.
import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { Agent, request } from 'undici';
import type { Pki } from './pki.ts';
import { listen } from './ports.ts';

/**
 * What the proxy does to one request. Faults named "GET-side" answer HEAD with the registry's
 * response minus `Docker-Content-Digest`, so that a client falls back to GET and meets the fault there:
 * a HEAD carries no body, and a digest a HEAD merely states cannot be checked by anyone.
 */
export type Fault =
  /** Forwards unchanged (Authorization included), recording what passed. */
  | { readonly kind: 'none' }
  /** Waits `ms` before forwarding. */
  | { readonly kind: 'latency'; readonly ms: number }
  /** Answers `status` (500, 502, 503, …) with a registry-style error body. */
  | { readonly kind: 'status'; readonly status: number }
  /** Answers 429 TOOMANYREQUESTS with this `Retry-After`. */
  | { readonly kind: 'rate-limit'; readonly retryAfter: string }
  /** Answers 401 with a Basic challenge to every request, whatever credentials it carries. */
  | { readonly kind: 'unauthorized' }
  /** GET-side: the manifest with a well-formed `Docker-Content-Digest` of other bytes. */
  | { readonly kind: 'wrong-digest' }
  /** GET-side: no `Docker-Content-Digest`, and a body with one hex digit changed (still a valid manifest). */
  | { readonly kind: 'corrupt-body' }
  /** GET-side: headers and half the body, then a TCP reset. */
  | { readonly kind: 'reset' }
  /** GET-side: `Content-Length` of the whole body, half of it, then the connection closed. */
  | { readonly kind: 'truncated' }
  /** GET-side: a manifest-typed body of `bytes` bytes, chunked (no length announced). */
  | { readonly kind: 'huge'; readonly bytes: number }
  /** GET-side: the manifest at `bytesPerSecond`, with its full `Content-Length` announced. */
  | { readonly kind: 'trickle'; readonly bytesPerSecond: number }
  /** 307 to `to` (an origin such as `http://localhost:5000`) with the same path; the proxy never follows it. */
  | { readonly kind: 'redirect'; readonly to: string }
  /**
   * A Bearer challenge naming `realm` to every request, token or not: a hostile or broken realm
   * (down, link-local). Bearer happy paths use the real registry's `token` setup instead.
   */
  | { readonly kind: 'bearer'; readonly realm: string };

/** The name of a fault, as requests are labelled with it. */
export type FaultKind = Fault['kind'];

/**
 * How an exchange ended: still `open`; `answered` (the proxy sent its whole response); `cut` (the
 * fault itself broke the connection off: reset, truncated, or the proxy closed); `abandoned` (the
 * client hung up before the response was complete: a lookup that gave up or stopped reading).
 */
export type Ending = 'open' | 'answered' | 'cut' | 'abandoned';

/** A request the proxy received. */
export interface ProxiedRequest {
  readonly method: string;
  /** Path with query, as sent. */
  readonly path: string;
  /** The Authorization header, when one came (tests scan logs for it and check where credentials went). */
  readonly authorization: string | undefined;
  /** The fault applied. */
  readonly fault: FaultKind;
  /** How the exchange had ended when `requests()` was called. */
  readonly ending: Ending;
}

/** Picks the fault for each request; a plain `Fault` applies to all. */
export type FaultChoice = Fault | ((request: { readonly method: string; readonly path: string }) => Fault);

/** Options of `startFaultProxy`. */
export interface FaultProxyOptions {
  /** Base URL of the real registry (`http://127.0.0.1:PORT` or https); must be loopback. */
  readonly upstream: string;
  /** CA (PEM) that signed an https upstream's certificate. */
  readonly upstreamCa?: string;
  /** @default { kind: 'none' } */
  readonly fault?: FaultChoice;
  /**
   * Serve HTTPS with a leaf from `pki`; `wrongName` issues it for `wrong-name.invalid` only, so a
   * client connecting to 127.0.0.1 or localhost sees a trusted certificate for another name.
   */
  readonly tls?: { readonly pki: Pki; readonly wrongName?: boolean };
}

/** A running proxy on 127.0.0.1. */
export interface FaultProxy {
  /** `127.0.0.1:PORT` */
  readonly host: string;
  /** `http://127.0.0.1:PORT` or `https://…` */
  readonly baseUrl: string;
  /** Changes the fault for requests from now on. */
  setFault(fault: FaultChoice): void;
  /** Every request received so far, each as it stands now. */
  requests(): readonly ProxiedRequest[];
  /** How many requests arrived so far. */
  count(): number;
  /** Closes the listener and every open connection (trickles and stalls included). */
  close(): Promise<void>;
}

const LOOPBACK: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '[::1]']);
/** Headers of the registry's answer passed on to the client. */
const FORWARDED_HEADERS = ['content-type', 'docker-content-digest', 'content-length', 'www-authenticate', 'retry-after', 'location'] as const;
const UPSTREAM_TIMEOUT_MS = 10_000;
const MANIFEST_PATH = /^\/v2\/(.+)\/manifests\/[^/]+$/;

/** Starts a proxy in front of `options.upstream`. Call `close()` in `after()`. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(options.upstream);
  // The suite must never send a byte beyond loopback, whatever a test passes in.
  if (!LOOPBACK.has(upstream.hostname)) throw new Error(`fault proxy upstream ${upstream.host} is not a loopback address`);
  const agent = new Agent(options.upstreamCa === undefined ? {} : { connect: { ca: options.upstreamCa } });
  let choice: FaultChoice = options.fault ?? { kind: 'none' };
  const seen: Array<{ -readonly [K in keyof ProxiedRequest]: ProxiedRequest[K] }> = [];
  const sockets = new Set<Socket>();
  /** Responses the proxy itself broke off; a close of any other unfinished response is the client's doing. */
  const cutByProxy = new WeakSet<ServerResponse>();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const fault = typeof choice === 'function' ? choice({ method, path }) : choice;
    const record = { method, path, authorization: req.headers.authorization, fault: fault.kind, ending: 'open' as Ending };
    seen.push(record);
    res.once('finish', () => {
      if (record.ending === 'open') record.ending = 'answered';
    });
    res.once('close', () => {
      if (record.ending === 'open') record.ending = cutByProxy.has(res) ? 'cut' : 'abandoned';
    });
    // The body (a token grant's form; none for HEAD and GET) is read whole, so it can be forwarded too.
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    const body = new Promise<Buffer>((resolve) => {
      req.once('end', () => {
        resolve(Buffer.concat(chunks));
      });
    });
    applyFault(fault, req, res, { upstream, agent, cut: (r) => cutByProxy.add(r), body }).catch(() => {
      cutByProxy.add(res);
      res.destroy();
    });
  };

  let server: HttpServer;
  if (options.tls === undefined) {
    server = createHttpServer(handle);
  } else {
    const leaf = options.tls.wrongName === true ? await issueForOtherName(options.tls.pki) : await options.tls.pki.issue(`fault-proxy-${randomBytes(4).toString('hex')}`, []);
    server = createHttpsServer({ key: leaf.keyPem, cert: leaf.certPem, minVersion: 'TLSv1.2' }, handle);
    // A failed handshake is the point of the wrong-name front; it must not surface as an error event.
    server.on('tlsClientError', () => undefined);
  }
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const { port } = await listen(server);
  const host = `127.0.0.1:${String(port)}`;

  let closed: Promise<void> | undefined;
  return {
    host,
    baseUrl: `${options.tls === undefined ? 'http' : 'https'}://${host}`,
    setFault(fault) {
      choice = fault;
    },
    requests: () => seen.map((r) => ({ ...r })),
    count: () => seen.length,
    close() {
      closed ??= (async () => {
        for (const record of seen) if (record.ending === 'open') record.ending = 'cut';
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => server.close(() => {
          resolve();
        }));
        await agent.close();
      })();
      return closed;
    },
  };
}

interface Upstream {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

interface Context {
  readonly upstream: URL;
  readonly agent: Agent;
  /** Marks a response the fault is about to break off, so its record says `cut`, not `abandoned`. */
  readonly cut: (res: ServerResponse) => void;
  /** The request body, once it has all arrived. */
  readonly body: Promise<Buffer>;
}

async function applyFault(fault: Fault, req: IncomingMessage, res: ServerResponse, context: Context): Promise<void> {
  const method = req.method ?? 'GET';
  const forwardAuth = fault.kind === 'none' || fault.kind === 'latency';
  const fetch = (): Promise<Upstream> => forward(req, context, forwardAuth);

  switch (fault.kind) {
    case 'none':
      return relay(res, method, await fetch());
    case 'latency':
      if (!(await wait(fault.ms, res))) return;
      return relay(res, method, await fetch());
    case 'status':
      return registryError(res, method, fault.status, fault.status === 503 ? 'UNAVAILABLE' : 'UNKNOWN', 'injected failure');
    case 'rate-limit':
      res.setHeader('Retry-After', fault.retryAfter);
      return registryError(res, method, 429, 'TOOMANYREQUESTS', 'too many requests');
    case 'unauthorized':
      res.setHeader('WWW-Authenticate', 'Basic realm="tagpin-fault-proxy"');
      return registryError(res, method, 401, 'UNAUTHORIZED', 'authentication required');
    case 'redirect':
      res.writeHead(307, { Location: `${fault.to}${req.url ?? '/'}`, 'Content-Length': '0' });
      res.end();
      return;
    case 'bearer': {
      const repository = MANIFEST_PATH.exec(new URL(req.url ?? '/', 'http://proxy.invalid').pathname)?.[1] ?? 'unknown';
      res.setHeader('WWW-Authenticate', `Bearer realm="${fault.realm}",service="tagpin-fault-proxy",scope="repository:${repository}:pull"`);
      return registryError(res, method, 401, 'UNAUTHORIZED', 'authentication required');
    }
    case 'wrong-digest':
    case 'corrupt-body':
    case 'reset':
    case 'truncated':
    case 'huge':
    case 'trickle':
      break;
  }

  // GET-side faults: a HEAD learns nothing that would spare the client its GET.
  const answer = await fetch();
  delete answer.headers['docker-content-digest'];
  if (method === 'HEAD' || answer.status !== 200) return relay(res, method, answer);
  const half = answer.body.subarray(0, Math.floor(answer.body.length / 2));
  switch (fault.kind) {
    case 'wrong-digest':
      answer.headers['docker-content-digest'] = `sha256:${createHash('sha256').update(Buffer.concat([answer.body, Buffer.from('\n')])).digest('hex')}`;
      return relay(res, method, answer);
    case 'corrupt-body':
      return relay(res, method, { ...answer, body: changeOneHexDigit(answer.body) });
    case 'reset':
      res.writeHead(200, { ...answer.headers, 'content-length': String(answer.body.length) });
      context.cut(res);
      res.write(half, () => {
        const socket = res.socket;
        if (socket !== null && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
        else res.destroy();
      });
      return;
    case 'truncated':
      res.writeHead(200, { ...answer.headers, 'content-length': String(answer.body.length) });
      context.cut(res);
      res.write(half, () => {
        res.socket?.end();
      });
      return;
    case 'huge':
      return streamHuge(res, answer.headers['content-type'] ?? 'application/vnd.oci.image.manifest.v1+json', fault.bytes);
    case 'trickle':
      return trickle(res, answer, fault.bytesPerSecond);
  }
}

/** Asks the upstream the same question (method, path, Accept, body and its type, and Authorization when `withAuth`). */
async function forward(req: IncomingMessage, context: Context, withAuth: boolean): Promise<Upstream> {
  const method = req.method === 'HEAD' || req.method === 'POST' ? req.method : 'GET';
  const headers: Record<string, string> = { accept: req.headers.accept ?? '*/*', 'user-agent': 'tagpin-fault-proxy' };
  if (withAuth && req.headers.authorization !== undefined) headers['authorization'] = req.headers.authorization;
  const sent = await context.body;
  if (method === 'POST') headers['content-type'] = req.headers['content-type'] ?? 'application/octet-stream';
  const answer = await request(new URL(req.url ?? '/', context.upstream), {
    method,
    headers,
    ...(method === 'POST' ? { body: sent } : {}),
    dispatcher: context.agent,
    headersTimeout: UPSTREAM_TIMEOUT_MS,
    bodyTimeout: UPSTREAM_TIMEOUT_MS,
  });
  const body = Buffer.from(await answer.body.arrayBuffer());
  const kept: Record<string, string> = {};
  for (const name of FORWARDED_HEADERS) {
    const value = answer.headers[name];
    if (typeof value === 'string') kept[name] = value;
  }
  return { status: answer.statusCode, headers: kept, body };
}

function relay(res: ServerResponse, method: string, answer: Upstream): void {
  const headers = { ...answer.headers };
  if (method !== 'HEAD') headers['content-length'] = String(answer.body.length);
  res.writeHead(answer.status, headers);
  res.end(method === 'HEAD' ? undefined : answer.body);
}

function registryError(res: ServerResponse, method: string, status: number, code: string, message: string): void {
  const body = JSON.stringify({ errors: [{ code, message, detail: null }] });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) });
  res.end(method === 'HEAD' ? undefined : body);
}

/** Resolves true after `ms`, or false as soon as the client goes away. */
function wait(ms: number, res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      res.off('close', gone);
      resolve(true);
    }, ms);
    const gone = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    res.once('close', gone);
  });
}

/** The first hex digit after the first "sha256:" flipped to another: still JSON, still a manifest, other bytes. */
function changeOneHexDigit(body: Buffer): Buffer {
  const copy = Buffer.from(body);
  const at = copy.indexOf('sha256:');
  const index = at === -1 ? copy.length - 2 : at + 'sha256:'.length;
  copy[index] = copy[index] === 0x30 ? 0x31 : 0x30;
  return copy;
}

/** A JSON-looking manifest body of `bytes` bytes, written in 64 KiB chunks while the client reads. */
function streamHuge(res: ServerResponse, contentType: string, bytes: number): void {
  res.writeHead(200, { 'Content-Type': contentType });
  const head = Buffer.from(`{"schemaVersion":2,"mediaType":"${contentType}","padding":"`);
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let sent = 0;
  const pump = (): void => {
    while (!res.destroyed) {
      if (sent === 0) {
        sent += head.length;
        if (!res.write(head)) return;
        continue;
      }
      const left = bytes - sent - 2;
      if (left <= 0) {
        res.end('"}');
        return;
      }
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
      sent += piece.length;
      if (!res.write(piece)) return;
    }
  };
  res.on('drain', pump);
  pump();
}

/** Sends the body a byte at a time at `bytesPerSecond`, stopping when the client leaves. */
function trickle(res: ServerResponse, answer: Upstream, bytesPerSecond: number): void {
  res.writeHead(200, { ...answer.headers, 'content-length': String(answer.body.length) });
  let sent = 0;
  const timer = setInterval(() => {
    if (res.destroyed || sent >= answer.body.length) {
      clearInterval(timer);
      if (!res.destroyed) res.end();
      return;
    }
    res.write(answer.body.subarray(sent, sent + 1));
    sent += 1;
  }, Math.max(1, Math.round(1000 / bytesPerSecond)));
  res.once('close', () => {
    clearInterval(timer);
  });
}

/** A leaf from `pki`'s CA whose only name is `wrong-name.invalid`: trusted, but for another host. */
async function issueForOtherName(pki: Pki): Promise<{ readonly keyPem: string; readonly certPem: string }> {
  return pki.issue(`wrong-name-${randomBytes(4).toString('hex')}`, ['wrong-name.invalid'], undefined, { onlySans: true });
}
