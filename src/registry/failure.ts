// Turns HTTP statuses and socket errors into RegistryErrors a user can act on (never with secrets).
import { STATUS_CODES } from 'node:http';
import { RegistryError, RegistryErrorCode } from '../errors/index.ts';
import { splitHostPort } from '../reference/index.ts';
import { describeAddressClass, howToTrust } from './address.ts';
import type { TrustHints } from './address.ts';
import { ForbiddenAddressError } from './guard.ts';

/** The image and registry a failure is about, carried into every error. */
export interface FailureContext {
  /** The image as the user wrote it. */
  readonly image: string;
  /** Normalized registry (`docker.io`, `127.0.0.1:5000`). */
  readonly registry: string;
}

/** Certificate verification failures: the fix is to trust the CA, so the message says how. */
const CERTIFICATE_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

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

  const code = codeInChain(error);
  if (code !== undefined && CERTIFICATE_CODES.has(code)) {
    return new RegistryError(
      RegistryErrorCode.tls,
      `TLS error talking to ${host}: certificate not trusted (${messageOf(error, code)}); trust its CA with --ca-file or registries.caFile`,
      fields,
    );
  }
  if (code !== undefined && (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code === 'EPROTO')) {
    return new RegistryError(
      RegistryErrorCode.tls,
      `TLS error talking to ${host}: ${messageOf(error, code)} (is it plain HTTP? list it in registries.insecure)`,
      fields,
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_NODATA') {
    return new RegistryError(RegistryErrorCode.network, `cannot resolve host ${hostOnly(host)}`, fields);
  }
  const phrase = code === undefined ? undefined : CONNECT_CODES[code];
  if (phrase !== undefined) {
    return new RegistryError(RegistryErrorCode.network, `cannot connect to ${host}: ${phrase}`, fields);
  }
  return new RegistryError(RegistryErrorCode.network, `cannot talk to ${host}: ${messageOf(error, code)}`, fields);
}

/** The error for a registry response status that ends the lookup (404, 429, 5xx, anything unexpected). */
export function statusFailure(
  status: number,
  host: string,
  context: FailureContext & { readonly repository: string; readonly tag: string },
  retryAfter: string | undefined,
): RegistryError {
  const fields = { image: context.image, registry: context.registry, status };
  if (status === 404) {
    return new RegistryError(
      RegistryErrorCode.notFound,
      `tag ${context.tag} not found in ${context.registry}/${context.repository}`,
      fields,
    );
  }
  if (status === 429) {
    const seconds = parseRetryAfter(retryAfter);
    const wait = seconds === undefined ? '' : `, retry after ${seconds} s`;
    return new RegistryError(RegistryErrorCode.rateLimited, `rate limited by ${host}${wait}`, {
      ...fields,
      ...(seconds === undefined ? {} : { retryAfterSeconds: seconds }),
    });
  }
  const code = status >= 500 ? RegistryErrorCode.unavailable : RegistryErrorCode.badResponse;
  return new RegistryError(code, `registry ${host} answered ${describeStatus(status)}`, fields);
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

/** The first error in `error`'s cause chain (itself included) that passes `test`. */
export function findInChain(error: unknown, test: (e: unknown) => boolean): unknown {
  let current = error;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth += 1) {
    if (test(current)) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The first `code` in `error`'s cause chain (undici's bare `UND_ERR` skipped). */
export function codeInChain(error: unknown): string | undefined {
  const found = findInChain(error, (e) => typeof (e as { code?: unknown }).code === 'string' && (e as { code: string }).code !== 'UND_ERR');
  return found === undefined ? undefined : (found as { code: string }).code;
}

function messageOf(error: unknown, code: string | undefined): string {
  const found = findInChain(error, (e) => code !== undefined && (e as { code?: unknown }).code === code) ?? error;
  const message = found instanceof Error ? found.message : String(found);
  return message.split('\n', 1)[0] ?? message;
}
