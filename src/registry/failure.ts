// Turns HTTP statuses and socket errors into RegistryErrors a user can act on (never with secrets).
import { STATUS_CODES } from 'node:http';
import { RegistryError, RegistryErrorCode } from '../errors/index.ts';
import { splitHostPort } from '../reference/index.ts';
import { describeAddressClass, howToTrust } from './address.ts';
import type { TrustHints } from './address.ts';
import { codeInChain, findInChain, messageOf } from './cause.ts';
import { quoteSaid } from './error-body.ts';
import type { RegistrySaid } from './error-body.ts';
import { ForbiddenAddressError } from './guard.ts';
import { describeTlsFailure } from './tls-failure.ts';

/** The image and registry a failure is about, carried into every error. */
export interface FailureContext {
  /** The image as the user wrote it. */
  readonly image: string;
  /** Normalized registry (`docker.io`, `127.0.0.1:5000`). */
  readonly registry: string;
}

const CONNECT_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection closed',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CLOSED: 'connection closed',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'body shorter or longer than its Content-Length',
  ECONNABORTED: 'connection aborted',
};

/**
 * Socket failures worth another try: the server restarted, a load balancer dropped the connection,
 * a keep-alive socket went stale, or DNS hiccuped. Refusals by policy, TLS and unknown names are final.
 */
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

/** Statuses that say "not now" rather than "no": worth another try. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);

/**
 * True when `error` is a failure another try may cure: a transient socket failure, or a retryable
 * status. Any other error (404, auth, TLS, guard, digest mismatch, timeout) is final.
 */
export function isTransientFailure(error: unknown): boolean {
  if (!(error instanceof RegistryError)) return false;
  if (error.code === RegistryErrorCode.network) {
    const code = codeInChain(error.cause);
    return code !== undefined && TRANSIENT_CODES.has(code);
  }
  if (error.code === RegistryErrorCode.rateLimited || error.code === RegistryErrorCode.unavailable) {
    return error.status !== undefined && RETRYABLE_STATUSES.has(error.status);
  }
  return error.code === RegistryErrorCode.token && error.status !== undefined && RETRYABLE_STATUSES.has(error.status);
}

/**
 * The RegistryError for a body (`what`: "the manifest", "the token response") that broke off while
 * being read from `host`. Errors already typed pass through unchanged.
 */
export function bodyFailure(error: unknown, host: string, what: string, context: FailureContext): RegistryError {
  if (error instanceof RegistryError) return error;
  const code = codeInChain(error);
  const phrase = (code === undefined ? undefined : CONNECT_CODES[code]) ?? messageOf(error, code);
  return new RegistryError(RegistryErrorCode.network, `reading ${what} from ${host} failed: ${phrase}`, {
    image: context.image,
    registry: context.registry,
    cause: error,
  });
}


/** `429 Too Many Requests`. */
export function describeStatus(status: number): string {
  const text = STATUS_CODES[status];
  return text === undefined ? String(status) : `${status} ${text}`;
}

/**
 * The RegistryError for a failed exchange with `host` (the registry or its token server).
 * Errors already typed pass through unchanged.
 */
export function networkFailure(error: unknown, host: string, context: FailureContext, trust: TrustHints): RegistryError {
  if (error instanceof RegistryError) return error;
  const fields = { image: context.image, registry: context.registry, cause: error };

  const forbidden = findInChain(error, (e) => e instanceof ForbiddenAddressError);
  if (forbidden instanceof ForbiddenAddressError) {
    return new RegistryError(
      RegistryErrorCode.forbiddenAddress,
      `refusing to contact ${host}: it resolves to ${forbidden.address}, ${describeAddressClass(forbidden.addressClass)} (${howToTrust(trust, forbidden.addressClass)})`,
      fields,
    );
  }

  const tls = describeTlsFailure(error, host, context.registry, trust);
  if (tls !== undefined) return new RegistryError(RegistryErrorCode.tls, tls, fields);
  const code = codeInChain(error);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_NODATA') {
    return new RegistryError(RegistryErrorCode.network, `cannot resolve host ${hostOnly(host)}`, fields);
  }
  const phrase = code === undefined ? undefined : CONNECT_CODES[code];
  if (phrase !== undefined) {
    return new RegistryError(RegistryErrorCode.network, `cannot connect to ${host}: ${phrase}`, fields);
  }
  return new RegistryError(RegistryErrorCode.network, `cannot talk to ${host}: ${messageOf(error, code)}`, fields);
}

/** Where a lookup goes, for the messages that name the tag or the repository. */
export type LookupContext = FailureContext & {
  readonly repository: string;
  /** The tag looked up, or the digest (`sha256:…`) of a lookup by digest. */
  readonly tag: string;
};

/** `HOST/REPO:TAG`, or `HOST/REPO@sha256:…` for a lookup by digest (a tag never holds a colon). */
export function lookupName(context: Pick<LookupContext, 'registry' | 'repository' | 'tag'>): string {
  const separator = context.tag.includes(':') ? '@' : ':';
  return `${context.registry}/${context.repository}${separator}${context.tag}`;
}

/** What a lookup found missing: the tag in its repository, or the repository itself. */
export type Missing = 'tag' | 'repository';

/** `tag 1.0 not found in HOST/demo/app`, `repository demo/nope not found in HOST`; ` (CODE: message)` may follow. */
export function notFoundFailure(context: LookupContext, missing: Missing, status: number, words = ''): RegistryError {
  const message =
    missing === 'repository'
      ? `repository ${context.repository} not found in ${context.registry}`
      : context.tag.includes(':')
        ? `manifest ${context.tag} not found in ${context.registry}/${context.repository}`
        : `tag ${context.tag} not found in ${context.registry}/${context.repository}`;
  return new RegistryError(RegistryErrorCode.notFound, `${message}${words}`, { image: context.image, registry: context.registry, status });
}

/**
 * The error for a registry response status that ends the lookup (404, 429, 5xx, anything unexpected).
 * `said`, the registry's error body when one came, decides before the status does: NAME_UNKNOWN is a
 * missing repository, MANIFEST_UNKNOWN a missing tag, DENIED, UNAUTHORIZED and TOOMANYREQUESTS are
 * named with the registry's message.
 */
export function statusFailure(
  status: number,
  host: string,
  context: LookupContext,
  retryAfter: string | undefined,
  said?: RegistrySaid,
): RegistryError {
  const fields = { image: context.image, registry: context.registry, status };
  const code = said?.code;
  if (code === 'NAME_UNKNOWN') return notFoundFailure(context, 'repository', status);
  if (code === 'MANIFEST_UNKNOWN') return notFoundFailure(context, 'tag', status);
  const words = said === undefined ? '' : ` (${quoteSaid(said)})`;
  if (code === 'DENIED') return new RegistryError(RegistryErrorCode.denied, `denied: ${host} answered ${describeStatus(status)}${words}`, fields);
  if (code === 'UNAUTHORIZED') {
    return new RegistryError(RegistryErrorCode.unauthorized, `unauthorized: ${host} answered ${describeStatus(status)}${words}`, fields);
  }
  if (status === 429 || code === 'TOOMANYREQUESTS') {
    const seconds = parseRetryAfter(retryAfter);
    const wait = seconds === undefined ? '' : `, retry after ${seconds} s`;
    return new RegistryError(RegistryErrorCode.rateLimited, `rate limited by ${host}${words}${wait}`, {
      ...fields,
      ...(seconds === undefined ? {} : { retryAfterSeconds: seconds }),
    });
  }
  if (status === 404) return notFoundFailure(context, 'tag', status, words);
  const failure = status >= 500 ? RegistryErrorCode.unavailable : RegistryErrorCode.badResponse;
  return new RegistryError(failure, `registry ${host} answered ${describeStatus(status)}${words}`, fields);
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

function hostOnly(hostPort: string): string {
  return splitHostPort(hostPort)?.host ?? hostPort;
}
