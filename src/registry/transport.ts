// One HTTP exchange with a registry or token server: keep-alive pools, scheme rules, guard, redirects.
import { rootCertificates } from 'node:tls';
import { isIP } from 'node:net';
import { Agent } from 'undici';
import type { Dispatcher } from 'undici';
import { RegistryError, RegistryErrorCode } from '../errors/index.ts';
import { compileHostGlobs, createGuardedLookup, isForbiddenAddress, splitHostPort, stripBrackets } from './address.ts';
import type { HostMatcher, Resolve } from './address.ts';
import { networkFailure } from './failure.ts';
import type { FailureContext } from './failure.ts';
import type { RegistryObserver } from './types.ts';

/** Redirects followed per exchange before giving up. */
export const MAX_REDIRECTS = 5;

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

/**
 * Sends one request, following redirects, and resolves with the final response whatever its status.
 * Rejects only with RegistryErrors (network, TLS, guard, redirect). Shaped so a retry policy can wrap it.
 */
export type Send = (request: HttpRequest, signal: AbortSignal) => Promise<HttpResponse>;

/** Settings of a transport. */
export interface TransportOptions {
  /** host[:port] reached over plain HTTP. */
  readonly insecure: readonly string[];
  /** Host globs trusted even when they resolve to link-local or metadata addresses. */
  readonly allow: readonly string[];
  /** Extra trusted CAs (PEM), added to the system roots. */
  readonly ca: string | undefined;
  readonly lookup: Resolve | undefined;
  readonly observer: RegistryObserver | undefined;
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
    return insecure.has(lower) || insecure.has(splitHostPort(lower).host);
  };
  const isTrusted: HostMatcher = compileHostGlobs(options.allow);
  const agent = new Agent({
    keepAliveTimeout: 30_000,
    connect: {
      ...(options.ca === undefined ? {} : { ca: [...rootCertificates, options.ca] }),
      lookup: createGuardedLookup(options.lookup, (hostname) => isTrusted(hostname)),
    },
  });

  const exchange = async (request: HttpRequest, signal: AbortSignal): Promise<HttpResponse> => {
    const { url } = request;
    const report = (status: number): void => {
      options.observer?.onRequest?.({ registry: url.host, method: request.method, status });
    };
    checkTarget(request, isInsecure, isTrusted);
    try {
      const response = await agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: request.method,
        headers: { 'user-agent': USER_AGENT, ...request.headers },
        ...(request.body === undefined ? {} : { body: request.body }),
        signal,
      });
      report(response.statusCode);
      return { status: response.statusCode, url, headers: response.headers, body: response.body };
    } catch (error) {
      report(0);
      throw networkFailure(error, url.host, request.context);
    }
  };

  const send: Send = async (request, signal) => {
    let current = request;
    for (let hop = 0; ; hop += 1) {
      const response = await exchange(current, signal);
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

  return { send, isInsecure, close: () => agent.close() };
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
  const headers: Record<string, string> = { ...request.headers };
  if (target.origin !== request.url.origin) delete headers['authorization'];
  const toGet = status === 303 ? request.method !== 'HEAD' : (status === 301 || status === 302) && request.method === 'POST';
  if (toGet) {
    delete headers['content-type'];
    return { method: 'GET', url: target, headers, context: request.context };
  }
  return { ...request, url: target, headers };
}

/** Refuses, without contact, IP literals the guard forbids and plain HTTP to hosts not listed insecure. */
function checkTarget(request: HttpRequest, isInsecure: (h: string) => boolean, isTrusted: HostMatcher): void {
  const { url, context } = request;
  const fields = { image: context.image, registry: context.registry };
  // Name lookups are checked inside the connector; literals never reach a lookup, so check them here.
  const literal = stripBrackets(url.hostname);
  if (isIP(literal) !== 0 && isForbiddenAddress(literal) && !isTrusted(url.host)) {
    throw new RegistryError(
      RegistryErrorCode.forbiddenAddress,
      `refusing to contact ${url.host}: ${literal} is a link-local or cloud metadata address (list it in registries.allow to trust it)`,
      fields,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new RegistryError(RegistryErrorCode.redirect, `refusing ${url.protocol} URL at ${url.host}`, fields);
  }
  if (url.protocol === 'http:' && request.plainHttpAllowed !== true && !isInsecure(url.host)) {
    throw new RegistryError(
      RegistryErrorCode.network,
      `refusing plain HTTP to ${url.host}: it is not listed in registries.insecure`,
      fields,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new RegistryError(RegistryErrorCode.badResponse, `refusing a URL with embedded credentials at ${url.host}`, fields);
  }
}

/** The first value of a header that may repeat. */
export function firstHeader(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0];
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
