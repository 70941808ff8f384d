// One HTTP exchange with a registry or token server: keep-alive pools, scheme rules, guard, redirects.
import { createSecureContext, rootCertificates } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import type { Dispatcher } from 'undici';
import { RegistryError, RegistryErrorCode } from '../errors/index.ts';
import { splitHostPort } from '../reference/index.ts';
import { classifyAddress, describeAddressClass, howToTrust, isLocalhostName, permits } from './address.ts';
import type { Reach, TrustHints } from './address.ts';
import { createGuardedLookup } from './guard.ts';
import type { Resolve } from './guard.ts';
import { compileHostGlobs } from './host-globs.ts';
import { networkFailure } from './failure.ts';
import type { FailureContext } from './failure.ts';
import { createProxyRouter, proxyFailure } from './proxy.ts';
import type { ProxySettings } from './proxy.ts';
import type { RegistryObserver } from './types.ts';

/** Redirects followed per exchange before giving up. */
const MAX_REDIRECTS = 5;

/** How long an idle connection to a registry (or a proxy) stays open. */
const KEEP_ALIVE_MS = 30_000;

/** Identifies tagpin in registry access logs. */
const USER_AGENT = 'tagpin';

const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** One request; `context` names the image and registry for errors. */
export interface HttpRequest {
  readonly method: 'GET' | 'HEAD' | 'POST';
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly context: FailureContext;
  /** Plain HTTP is acceptable to any host (the token realm of a registry listed insecure). @default false */
  readonly plainHttpAllowed?: boolean;
}

/** A response whose body the caller must consume or dump. */
export interface HttpResponse {
  readonly status: number;
  /** Where the response came from after redirects. */
  readonly url: URL;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Dispatcher.ResponseData['body'];
}

/** The time one lookup has: its cancellation signal, and the deadline of the latest caller still waiting. */
export interface Budget {
  readonly signal: AbortSignal;
  /** Epoch milliseconds; may move later while the lookup runs (a more patient caller joined it). */
  readonly deadline: () => number;
}

/**
 * Sends one request, following redirects, and resolves with the final response whatever its status.
 * Rejects only with RegistryErrors (network, TLS, guard, redirect). A retry policy wraps it (retry.ts).
 */
export type Send = (request: HttpRequest, budget: Budget) => Promise<HttpResponse>;

/** Settings of a transport. */
export interface TransportOptions {
  /** host[:port] reached over plain HTTP. */
  readonly insecure: readonly string[];
  /** Host globs trusted wherever they resolve, link-local and metadata addresses included. */
  readonly allow: readonly string[];
  /** Host globs that may resolve to loopback and private addresses. */
  readonly privateHosts: readonly string[];
  /**
   * Origins of configured mirrors (`http://10.0.0.5:5000`, `https://mirror.corp`): operator settings,
   * so they may resolve to loopback and private addresses, and an `http:` one is plain HTTP without
   * being listed in `insecure`.
   */
  readonly mirrorOrigins: readonly string[];
  /** How far hosts listed nowhere may reach. */
  readonly unlistedReach: 'public' | 'private';
  /** What refusals tell the user to list. */
  readonly trust: TrustHints;
  /** Extra trusted CAs (PEM), added to the system roots. */
  readonly ca: string | undefined;
  readonly lookup: Resolve | undefined;
  readonly observer: RegistryObserver | undefined;
  /** Proxies for requests NO_PROXY does not exempt; undefined: every request goes directly. */
  readonly proxy: ProxySettings | undefined;
}

/** A keep-alive connection pool per origin plus the rules every exchange obeys. */
export interface Transport {
  readonly send: Send;
  /** True when `hostPort` is listed as insecure (plain HTTP). */
  readonly isInsecure: (hostPort: string) => boolean;
  close(): Promise<void>;
}

/** Builds the transport: one undici Agent, which keeps one Pool per origin. */
export function createTransport(options: TransportOptions): Transport {
  const insecure = new Set(options.insecure.map((entry) => entry.toLowerCase()));
  const isInsecure = (hostPort: string): boolean => {
    const lower = hostPort.toLowerCase();
    // A listed host without a port covers every port of that host.
    return insecure.has(lower) || insecure.has(splitHostPort(lower)?.host ?? lower);
  };
  const isAllowed = compileHostGlobs(options.allow);
  const isPrivateHost = compileHostGlobs(options.privateHosts);
  const mirrorOrigins = new Set(options.mirrorOrigins.map((origin) => explicitOrigin(new URL(origin))));
  /** How far connections to a host may reach: its listing, not the address it happens to resolve to. */
  const reachOf = (url: { readonly host?: string; readonly hostname: string; readonly port: string; readonly protocol: string }): Reach => {
    // The connector gets IPv6 hostnames without brackets; the lists spell them with.
    const hostname = url.hostname.includes(':') && !url.hostname.startsWith('[') ? `[${url.hostname}]` : url.hostname;
    const host = url.host ?? (url.port === '' ? hostname : `${hostname}:${url.port}`);
    const explicit = `${hostname}:${url.port === '' ? (url.protocol === 'http:' ? '80' : '443') : url.port}`;
    if (isAllowed(host) || isAllowed(explicit)) return 'any';
    if (isInsecure(host) || isInsecure(explicit) || isPrivateHost(host) || isPrivateHost(explicit)) return 'private';
    if (mirrorOrigins.has(`${url.protocol}//${explicit}`.toLowerCase())) return 'private';
    return options.unlistedReach;
  };
  // One connector per reach, each with its own guarded lookup; the pool of an origin always uses the
  // same one, since an origin's listing never changes while the client lives.
  // One context for every connection: given `ca` instead, tls.connect parses all root certificates
  // again for each new connection (tens of ms of CPU each).
  const secureContext = options.ca === undefined ? undefined : createSecureContext({ ca: [...rootCertificates, options.ca] });
  const tls = secureContext === undefined ? {} : { secureContext };
  const connectors: Readonly<Record<Reach, buildConnector.connector>> = {
    public: buildConnector({ ...tls, lookup: createGuardedLookup(options.lookup, 'public') }),
    private: buildConnector({ ...tls, lookup: createGuardedLookup(options.lookup, 'private') }),
    any: buildConnector({ ...tls, lookup: createGuardedLookup(options.lookup, 'any') }),
  };
  const agent = new Agent({
    keepAliveTimeout: KEEP_ALIVE_MS,
    connect: (connectOptions, callback) => {
      connectors[reachOf(connectOptions)](connectOptions, callback);
    },
  });
  // Through a proxy tagpin never resolves the registry's name, so only checkTarget's checks apply.
  const proxies = options.proxy === undefined ? undefined : createProxyRouter(options.proxy, secureContext, KEEP_ALIVE_MS);

  const exchange = async (request: HttpRequest, signal: AbortSignal): Promise<HttpResponse> => {
    const { url } = request;
    const report = (status: number): void => {
      // The lookup's normalized registry, whichever host (token realm, redirect target) answered.
      options.observer?.onRequest?.({ registry: request.context.registry, method: request.method, status });
    };
    checkTarget(request, (u) => isInsecure(u.host) || mirrorOrigins.has(explicitOrigin(u)), reachOf(url), options.trust);
    const route = proxies?.route(url);
    try {
      const response = await (route?.dispatcher ?? agent).request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: request.method,
        headers: { 'user-agent': USER_AGENT, ...request.headers },
        ...(request.body === undefined ? {} : { body: request.body }),
        signal,
        // undici closes the connection after every HEAD (for servers that send a body anyway) unless
        // told not to. Registries answer HEAD as HTTP says, and a lookup is a HEAD: without this, every
        // cold lookup paid a new TCP connection and TLS handshake.
        reset: false,
      });
      report(response.statusCode);
      return { status: response.statusCode, url, headers: response.headers, body: response.body };
    } catch (error) {
      report(0);
      const failure = networkFailure(error, url.host, request.context, options.trust);
      throw route === undefined ? failure : proxyFailure(error, failure, route.server, url, request.context);
    }
  };

  const send: Send = async (request, budget) => {
    let current = request;
    for (let hop = 0; ; hop += 1) {
      const response = await exchange(current, budget.signal);
      const location = firstHeader(response.headers['location']);
      if (!REDIRECT_STATUSES.has(response.status) || location === undefined) return response;
      await response.body.dump();
      if (hop >= MAX_REDIRECTS) {
        throw new RegistryError(
          RegistryErrorCode.redirect,
          `too many redirects (more than ${MAX_REDIRECTS}) starting at ${request.url.host}`,
          { image: request.context.image, registry: request.context.registry },
        );
      }
      current = redirected(current, response.status, location);
    }
  };

  return {
    send,
    isInsecure,
    close: async () => {
      await Promise.all([agent.close(), proxies?.close()]);
    },
  };
}

/** The request to send after a redirect: Authorization never crosses to another origin. */
function redirected(request: HttpRequest, status: number, location: string): HttpRequest {
  let target: URL;
  try {
    target = new URL(location, request.url);
  } catch {
    throw new RegistryError(RegistryErrorCode.redirect, `${request.url.host} redirected to an invalid location`, {
      image: request.context.image,
      registry: request.context.registry,
      status,
    });
  }
  const crossOrigin = target.origin !== request.url.origin;
  const headers: Record<string, string> = { ...request.headers };
  if (crossOrigin) delete headers['authorization'];
  const toGet = status === 303 ? request.method !== 'HEAD' : (status === 301 || status === 302) && request.method === 'POST';
  if (toGet) {
    delete headers['content-type'];
    return { method: 'GET', url: target, headers, context: request.context };
  }
  // 307 and 308 resend the body, and the only body tagpin sends is an identity-token grant: a secret.
  if (crossOrigin && request.body !== undefined) {
    throw new RegistryError(
      RegistryErrorCode.redirect,
      `${request.url.host} redirected a token exchange to ${target.host}; credentials are not sent to another origin`,
      { image: request.context.image, registry: request.context.registry, status },
    );
  }
  return { ...request, url: target, headers };
}

/**
 * Refuses, without contact, IP literals and `localhost` names the host's reach does not permit, and
 * plain HTTP to hosts not listed insecure.
 */
function checkTarget(request: HttpRequest, isPlainHttp: (url: URL) => boolean, reach: Reach, trust: TrustHints): void {
  const { url, context } = request;
  const fields = { image: context.image, registry: context.registry };
  // Names are checked inside the connector's lookup; literals never reach a lookup, so check them here.
  const found = classifyAddress(url.hostname) ?? (isLocalhostName(url.hostname) ? 'private' : 'public');
  if (found !== 'public' && !permits(reach, found)) {
    throw new RegistryError(
      RegistryErrorCode.forbiddenAddress,
      `refusing to contact ${url.host}: ${url.hostname} is ${describeAddressClass(found)} (${howToTrust(trust, found)})`,
      fields,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new RegistryError(RegistryErrorCode.redirect, `refusing ${url.protocol} URL at ${url.host}`, fields);
  }
  if (url.protocol === 'http:' && request.plainHttpAllowed !== true && !isPlainHttp(url)) {
    throw new RegistryError(
      RegistryErrorCode.plainHttpRefused,
      `refusing plain HTTP to ${url.host}: it is not listed in registries.insecure`,
      fields,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new RegistryError(RegistryErrorCode.badResponse, `refusing a URL with embedded credentials at ${url.host}`, fields);
  }
}

/** `http://host:80`: the origin with its port spelled out, as connections see it. */
function explicitOrigin(url: URL): string {
  return `${url.protocol}//${url.hostname}:${url.port === '' ? (url.protocol === 'http:' ? '80' : '443') : url.port}`.toLowerCase();
}

/** The first value of a header that may repeat. */
export function firstHeader(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0];
}

/**
 * Drops a body that will not be read, closing its connection. undici reports the abort as an 'error'
 * event, which with no listener would surface as an uncaught exception after the lookup has failed.
 */
export function discard(body: HttpResponse['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

/** Reads a whole body, or undefined when it exceeds `limit` bytes (the connection is then dropped). */
export async function readLimited(body: HttpResponse['body'], limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
