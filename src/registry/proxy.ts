// HTTPS_PROXY, HTTP_PROXY and NO_PROXY: which requests go through a proxy, the agents that carry them, and their failures.
import type { SecureContext } from 'node:tls';
import { Pool, ProxyAgent } from 'undici';
import type { Dispatcher, buildConnector } from 'undici';
import { ConfigError, RegistryError, RegistryErrorCode } from '../errors/index.ts';
import { codeInChain, findInChain } from './cause.ts';
import { describeStatus } from './failure.ts';
import type { FailureContext } from './failure.ts';
import { compileNoProxy } from './no-proxy.ts';
import type { NoProxyMatcher } from './no-proxy.ts';

/** Environment variables by name, as `process.env`. */
export type ProxyEnvironment = Readonly<Record<string, string | undefined>>;

/** A proxy named by one variable. */
export interface ProxyServer {
  /** The variable that named it, as spelled in the environment (`HTTPS_PROXY`, `https_proxy`). */
  readonly variable: string;
  /** `proxy.corp:3128`: what messages and logs name, never with credentials. */
  readonly address: string;
  /** `http://proxy.corp:3128`, without credentials. */
  readonly origin: string;
  /** `Basic …` from the URL's user and password, sent to the proxy only. */
  readonly authorization: string | undefined;
}

/** The proxies of the environment; undefined fields are reached directly. */
export interface ProxySettings {
  /** For https:// registries, token realms and redirect targets. */
  readonly https: ProxyServer | undefined;
  /** For plain http:// ones (`registries.insecure`). */
  readonly http: ProxyServer | undefined;
  readonly noProxy: { readonly variable: string; readonly value: string; readonly matches: NoProxyMatcher } | undefined;
}

/** What the server logs at start: each proxy's address and variable, and NO_PROXY as given. */
export interface ProxySummary {
  readonly https?: string;
  readonly http?: string;
  readonly noProxy?: string;
}

/**
 * Reads the proxy variables once. Each has an upper- and a lower-case form; the upper-case one wins
 * when both are set, and an empty value counts as unset (as Go programs read them, docker and
 * containerd among them). https:// requests use HTTPS_PROXY only, http:// requests HTTP_PROXY only.
 * @returns undefined when neither proxy is set (NO_PROXY alone changes nothing)
 * @throws ConfigError naming the variable when a value is not an http:// or https:// proxy URL
 */
export function readProxySettings(env: ProxyEnvironment): ProxySettings | undefined {
  const https = pick(env, 'HTTPS_PROXY');
  const http = pick(env, 'HTTP_PROXY');
  if (https === undefined && http === undefined) return undefined;
  const noProxy = pick(env, 'NO_PROXY');
  return {
    https: https === undefined ? undefined : parseProxy(https.variable, https.value),
    http: http === undefined ? undefined : parseProxy(http.variable, http.value),
    noProxy: noProxy === undefined ? undefined : { ...noProxy, matches: compileNoProxy(noProxy.value, noProxy.variable) },
  };
}

/** The settings as the start-up log shows them. */
export function summarizeProxies(settings: ProxySettings): ProxySummary {
  const describe = (server: ProxyServer): string => `${server.address} (${server.variable})`;
  return {
    ...(settings.https === undefined ? {} : { https: describe(settings.https) }),
    ...(settings.http === undefined ? {} : { http: describe(settings.http) }),
    ...(settings.noProxy === undefined ? {} : { noProxy: `${settings.noProxy.value} (${settings.noProxy.variable})` }),
  };
}

function pick(env: ProxyEnvironment, upper: string): { readonly variable: string; readonly value: string } | undefined {
  for (const variable of [upper, upper.toLowerCase()]) {
    const value = env[variable]?.trim();
    if (value !== undefined && value !== '') return { variable, value };
  }
  return undefined;
}

function parseProxy(variable: string, value: string): ProxyServer {
  const fix = `set it to http://HOST:PORT (or http://USER:PASSWORD@HOST:PORT)`;
  // A value without a scheme is an http:// proxy, as curl and Go read it.
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`${variable} is not a proxy URL (got "${maskCredentials(value)}"); ${fix}`, { where: variable });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${variable} names a ${url.protocol.slice(0, -1)} proxy; only http:// and https:// proxies are supported`, { where: variable });
  }
  if (url.hostname === '') throw new ConfigError(`${variable} names no proxy host (got "${maskCredentials(value)}"); ${fix}`, { where: variable });
  const port = url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port;
  const authorization =
    url.username === '' && url.password === ''
      ? undefined
      : `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
  return { variable, address: `${url.hostname}:${port}`, origin: `${url.protocol}//${url.host}`, authorization };
}

/** `value` with whatever stands before an `@` in its authority replaced by `***`. */
function maskCredentials(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/@]*@/i, (_match, scheme: string | undefined) => `${scheme ?? ''}***@`);
}

/** How long a proxy may take to answer a CONNECT: undici's connect timeout, which direct connections have. */
const CONNECT_ANSWER_MS = 10_000;

/** The proxy a request takes, and the dispatcher that sends it there. */
export interface ProxyRoute {
  readonly server: ProxyServer;
  readonly dispatcher: Dispatcher;
}

/** Picks the route of each request; `close` ends the proxies' pools. */
export interface ProxyRouter {
  /** The proxy route for `url`, or undefined to connect directly. */
  route(url: URL): ProxyRoute | undefined;
  close(): Promise<void>;
}

/**
 * One ProxyAgent per configured proxy, each keeping a pool per registry origin. https:// targets are
 * tunnelled with CONNECT, and TLS to the registry runs inside the tunnel with `secureContext` (the system
 * roots plus `registries.caFile`); an https:// proxy's own certificate is checked against the same roots.
 * http:// targets are sent to the proxy as absolute-URI requests, as curl and Go do, since many proxies
 * allow CONNECT only to port 443. The connection to the proxy itself is not guarded: the proxy is the
 * operator's choice, wherever it lives.
 */
export function createProxyRouter(settings: ProxySettings, secureContext: SecureContext | undefined, keepAliveTimeout: number): ProxyRouter {
  const tls = secureContext === undefined ? undefined : { secureContext };
  const agentFor = (server: ProxyServer, tunnel: boolean): ProxyRoute => ({
    server,
    dispatcher: new ProxyAgent({
      uri: server.origin,
      keepAliveTimeout,
      proxyTunnel: tunnel,
      ...(server.authorization === undefined ? {} : { token: server.authorization }),
      ...(tls === undefined ? {} : { requestTls: tls, proxyTls: tls }),
      clientFactory: (origin, options) =>
        new Pool(origin, {
          ...options,
          connect: markProxyConnection((options as { readonly connect: buildConnector.connector }).connect),
          // A lookup that gives up does not cancel the CONNECT its pool asked for; this bounds how long
          // a proxy that never answers holds the socket, as the connect timeout does for direct sockets.
          headersTimeout: CONNECT_ANSWER_MS,
        }),
    }),
  });
  const https = settings.https === undefined ? undefined : agentFor(settings.https, true);
  const http = settings.http === undefined ? undefined : agentFor(settings.http, false);
  return {
    route(url) {
      const chosen = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
      if (chosen === undefined || settings.noProxy?.matches(url) === true) return undefined;
      return chosen;
    },
    async close() {
      await Promise.all([https?.dispatcher.close(), http?.dispatcher.close()]);
    },
  };
}

/**
 * A failure of the connection to the proxy itself (TCP, DNS, TLS to an https:// proxy), as opposed to
 * one inside the tunnel: a certificate error here is the proxy's certificate, not the registry's.
 */
class ProxyConnectionError extends Error {
  constructor(cause: Error) {
    super(cause.message, { cause });
    this.name = 'ProxyConnectionError';
  }
}

/** `connect`, with its failures wrapped in ProxyConnectionError. */
function markProxyConnection(connect: buildConnector.connector): buildConnector.connector {
  return (options, callback) => {
    connect(options, (...result) => {
      if (result[0] === null) callback(...result);
      else callback(new ProxyConnectionError(result[0]), null);
    });
  };
}

/**
 * Socket failures that can only be the connection to the proxy, also for plain requests sent through
 * it (their connections are not marked): the registry is the proxy's to reach.
 */
const PROXY_CONNECT_PHRASES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'its host name does not resolve',
  EAI_AGAIN: 'its host name does not resolve',
  EAI_NONAME: 'its host name does not resolve',
  UND_ERR_HEADERS_TIMEOUT: `no answer to CONNECT within ${String(CONNECT_ANSWER_MS / 1000)} s`,
};

/**
 * The RegistryError for `error`, raised by an exchange with `target` through `server`, or a status the
 * proxy answered instead of the registry:
 * - the proxy cannot be reached, or its own TLS fails: `cannot connect to proxy HOST:PORT (HTTPS_PROXY): connection refused`;
 * - the proxy refused the request (403, 407, 5xx): `proxy HOST:PORT (HTTPS_PROXY) answered 407 … for TARGET; HINT`;
 * - anything else (a TLS error inside the tunnel, a reset): `failure` with the route appended.
 * The proxy's credentials never appear: it is named by host and port only.
 */
export function proxyFailure(error: unknown, failure: RegistryError, server: ProxyServer, target: URL, context: FailureContext): RegistryError {
  const fields = { image: context.image, registry: context.registry, cause: error };
  const named = `proxy ${server.address} (${server.variable})`;
  const status = proxyStatus(error);
  if (status !== undefined) {
    return new RegistryError(RegistryErrorCode.network, `${named} answered ${describeStatus(status)} for ${hostPort(target)}${statusHint(status, server)}`, {
      ...fields,
      status,
    });
  }
  const code = codeInChain(error);
  const phrase = code === undefined ? undefined : PROXY_CONNECT_PHRASES[code];
  if (phrase !== undefined) {
    return new RegistryError(RegistryErrorCode.network, `cannot connect to ${named}: ${phrase}`, fields);
  }
  const connection = findInChain(error, (e) => e instanceof ProxyConnectionError);
  if (connection instanceof ProxyConnectionError) {
    const tls = server.origin.startsWith('https:');
    // Node appends "; if the root CA is installed locally, try … --use-system-ca", advice for Node users.
    const detail = connection.message.split(/\n|; /, 1)[0] ?? connection.message;
    const hint = tls ? ` (its certificate must chain to a system CA or to registries.caFile)` : '';
    return new RegistryError(tls ? RegistryErrorCode.tls : RegistryErrorCode.network, `cannot connect to ${named}: ${detail}${hint}`, fields);
  }
  return new RegistryError(failure.code, `${failure.message} (through ${named})`, {
    image: context.image,
    registry: context.registry,
    cause: failure.cause,
    ...(failure.status === undefined ? {} : { status: failure.status }),
  });
}

/**
 * The status a proxy refused a request with, from undici's errors: a CONNECT answered with anything
 * but 200, or a 407 to a request sent through the proxy.
 */
function proxyStatus(error: unknown): number | undefined {
  if (!(error instanceof Error)) return undefined;
  const match = /^Proxy response \((\d{3})\) !== 200|^Proxy Authentication Required \((407)\)/.exec(error.message);
  const status = match?.[1] ?? match?.[2];
  return status === undefined ? undefined : Number(status);
}

function statusHint(status: number, server: ProxyServer): string {
  // tinyproxy answers wrong credentials with 401, missing ones with 407.
  if (status === 407 || status === 401) {
    return server.authorization === undefined
      ? `; put the proxy's user and password in ${server.variable} (http://USER:PASSWORD@HOST:PORT)`
      : `; check the user and password in ${server.variable}`;
  }
  if (status === 403) return '; the proxy does not allow this destination (or add it to NO_PROXY to connect directly)';
  if (status >= 500) return '; the proxy could not reach it';
  return '';
}

function hostPort(url: URL): string {
  return url.port === '' ? `${url.host}:${url.protocol === 'http:' ? '80' : '443'}` : url.host;
}
