// Bounded retries with full-jitter exponential backoff, for idempotent exchanges, inside the lookup's deadline.
import { ConfigError, RegistryError, RegistryErrorCode } from '../errors/index.ts';
import { RETRYABLE_STATUSES, isTransientFailure, parseRetryAfter } from './failure.ts';
import { firstHeader } from './transport.ts';
import type { Budget, HttpResponse, Send } from './transport.ts';
import type { RegistryObserver } from './types.ts';

/** How hard to try again. */
export interface RetryPolicy {
  /** Tries after the first one. @default 2 */
  readonly retries: number;
  /** Ceiling of the first backoff; each later ceiling doubles. @default 100 */
  readonly baseDelayMs: number;
  /** Largest backoff ceiling. @default 1000 */
  readonly maxDelayMs: number;
}

/**
 * Two retries at most: three tries fit a webhook's budget (8 s by default) many times over when a
 * registry blips, and a registry that is really down is not hammered by every admission.
 */
export const DEFAULT_RETRY: RetryPolicy = Object.freeze({ retries: 2, baseDelayMs: 100, maxDelayMs: 1000 });

/** Retries are capped here whatever the options say: each one is another request to a struggling registry. */
const MAX_RETRIES = 5;

/**
 * Time a retry needs left after its wait to be worth starting: one that would be cut off at once by the
 * deadline only turns the registry's real answer (503, rate limited) into a less useful "timed out".
 */
export const MIN_TRY_MS = 100;

/**
 * The policy from partial options, checked up front.
 * @throws ConfigError naming the option and the rule
 */
export function retryPolicy(options: Partial<RetryPolicy> | undefined): RetryPolicy {
  const policy = { ...DEFAULT_RETRY, ...options };
  for (const [key, value] of Object.entries(policy)) {
    if (!Number.isInteger(value) || value < 0) {
      throw new ConfigError(`retry.${key} must be a whole number of 0 or more (got ${String(value)})`, { where: `retry.${key}` });
    }
  }
  if (policy.retries > MAX_RETRIES) {
    throw new ConfigError(`retry.retries must be at most ${MAX_RETRIES} (got ${policy.retries})`, { where: 'retry.retries' });
  }
  return policy;
}

/** Why a try is worth repeating. */
export interface RetryCause {
  /** The failed try's HTTP status; 0 when no response arrived. */
  readonly status: number;
  /** The wait the server asked for (Retry-After), in milliseconds. */
  readonly retryAfterMs: number | undefined;
  /** Releases what the failed try holds, such as an unread body. */
  readonly release?: () => Promise<void>;
}

/** How one try ended. */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/** Everything a retry loop needs besides the work. */
export interface RetryContext {
  /** The lookup's normalized registry (`docker.io`), the `registry` of every retry reported: token and redirect hosts included. */
  readonly registry: string;
  readonly method: string;
  readonly budget: Budget;
  readonly policy: RetryPolicy;
  readonly observer: RegistryObserver | undefined;
  /** A number in [0, 1); injectable so tests can pin the jitter. @default Math.random */
  readonly random?: () => number;
}

/**
 * Runs `attempt`, and again while `judge` names a cause, retries remain, and the wait ends at least
 * MIN_TRY_MS before the deadline. The wait is the server's Retry-After when it gave one (never shortened: asking again sooner
 * is what it asked us not to do), else a full-jitter backoff. When a wait does not fit, the last outcome
 * stands at once: failing fast with the server's reason beats timing out.
 */
export async function withRetries<T>(
  attempt: () => Promise<T>,
  judge: (outcome: Outcome<T>) => RetryCause | undefined,
  context: RetryContext,
): Promise<T> {
  const { budget, policy } = context;
  const random = context.random ?? Math.random;
  for (let retry = 0; ; retry += 1) {
    let outcome: Outcome<T>;
    try {
      outcome = { ok: true, value: await attempt() };
    } catch (error) {
      outcome = { ok: false, error };
    }
    const cause = retry < policy.retries && !budget.signal.aborted ? judge(outcome) : undefined;
    const delayMs = cause === undefined ? undefined : (cause.retryAfterMs ?? backoff(retry, policy, random));
    if (cause === undefined || delayMs === undefined || Date.now() + delayMs + MIN_TRY_MS > budget.deadline()) {
      if (outcome.ok) return outcome.value;
      throw outcome.error;
    }
    await cause.release?.();
    context.observer?.onRetry?.({ registry: context.registry, method: context.method, status: cause.status, delayMs });
    await sleep(delayMs, budget.signal);
  }
}

/** Full jitter: a uniform wait between 0 and min(max, base * 2^retry) (AWS architecture blog, "Exponential Backoff and Jitter"). */
export function backoff(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.floor(random() * ceiling);
}

/**
 * `send` with retries for HEAD and GET on transient socket failures and on 429, 500, 502, 503 and 504.
 * Other methods (the identity-token POST) go once: repeating a grant is not known to be harmless.
 * When retries run out, the last response is returned as is, for the caller to describe.
 */
export function retryingSend(send: Send, policy: RetryPolicy, observer: RegistryObserver | undefined): Send {
  return (request, budget) => {
    if (request.method !== 'HEAD' && request.method !== 'GET') return send(request, budget);
    return withRetries(
      () => send(request, budget),
      (outcome) => (outcome.ok ? responseCause(outcome.value) : errorCause(outcome.error)),
      { registry: request.context.registry, method: request.method, budget, policy, observer },
    );
  };
}

/** A retryable status, with the wait the server asked for on 429 and 503. */
function responseCause(response: HttpResponse): RetryCause | undefined {
  if (!RETRYABLE_STATUSES.has(response.status)) return undefined;
  const seconds =
    response.status === 429 || response.status === 503 ? parseRetryAfter(firstHeader(response.headers['retry-after'])) : undefined;
  return {
    status: response.status,
    retryAfterMs: seconds === undefined ? undefined : seconds * 1000,
    release: async () => {
      await response.body.dump();
    },
  };
}

/** A transient failure of an exchange, or undefined when the error is final. */
export function errorCause(error: unknown): RetryCause | undefined {
  if (!isTransientFailure(error)) return undefined;
  const failure = error as RegistryError;
  const seconds = failure.code === RegistryErrorCode.rateLimited ? failure.retryAfterSeconds : undefined;
  return { status: failure.status ?? 0, retryAfterMs: seconds === undefined ? undefined : seconds * 1000 };
}

/** Waits `ms`, or rejects as soon as `signal` aborts (every caller of the lookup has gone). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  const cancelled = (): RegistryError => new RegistryError(RegistryErrorCode.timeout, 'lookup cancelled while waiting to retry');
  if (signal.aborted) return Promise.reject(cancelled());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', abort);
      resolve();
    }, ms);
    const abort = (): void => {
      clearTimeout(timer);
      reject(cancelled());
    };
    signal.addEventListener('abort', abort, { once: true });
  });
}
