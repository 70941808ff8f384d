// Shapes of the registry client's inputs, outputs and observers.
import type { LookupAddress } from 'node:dns';
import type { TrustHints } from './address.ts';

export type { LookupOptions, ResolvedImage, Resolver } from '../admission/index.ts';

/** Events the client reports so metrics can count them without the client knowing prom-client. */
export interface RegistryObserver {
  /**
   * One HTTP exchange with a registry, its token server or a host it redirected to; `registry` is the
   * lookup's normalized registry (`docker.io`) for all of them. Status 0 when no response arrived.
   */
  onRequest?(event: { readonly registry: string; readonly method: string; readonly status: number }): void;
  /**
   * How a lookup was answered: `hit` from the digest cache, `miss` by the registry, `coalesced` by a
   * lookup already in flight, `negative` by a recent outage failure remembered for a few seconds.
   */
  onCache?(result: 'hit' | 'miss' | 'coalesced' | 'negative'): void;
  /**
   * A request is about to be tried again after `delayMs`: `status` is what the failed try answered
   * (0 when no response arrived, e.g. connection refused or reset).
   */
  onRetry?(event: { readonly registry: string; readonly method: string; readonly status: number; readonly delayMs: number }): void;
  /** A lookup moved past one of `registry`'s mirrors to the next mirror or to the registry itself. */
  onMirrorFallback?(event: { readonly registry: string; readonly reason: MirrorFallbackReason }): void;
}

/**
 * Why a lookup moved past a mirror: `unreachable` (connection, TLS, no answer within its share of the
 * time), `unavailable` (429, 5xx, its token realm failing), `not-found` (404), `unauthorized` (401 or
 * 403 after every matching credential), `bad-response` (anything else, such as a manifest that does not
 * match its digest), `skipped` (it failed moments ago and was not asked).
 */
export type MirrorFallbackReason = 'unreachable' | 'unavailable' | 'not-found' | 'unauthorized' | 'bad-response' | 'skipped';

/** Options of `createRegistryClient`. */
export interface RegistryClientOptions {
  /** host[:port] reached over plain HTTP; they may also resolve to loopback and private addresses. @default [] */
  readonly insecure?: readonly string[];
  /** Extra trusted CA certificates, PEM text (not a path). @default none */
  readonly ca?: string;
  /**
   * Host globs; when non-empty, no other registry is contacted. Listed hosts (registries and token
   * realms) may also resolve to loopback, private, link-local and metadata addresses. @default []
   */
  readonly allow?: readonly string[];
  /**
   * Host globs that may resolve to loopback and private addresses (as `insecure` hosts may), without
   * the allow-list mode of `allow`. @default []
   */
  readonly privateHosts?: readonly string[];
  /**
   * How far hosts listed nowhere may reach: `public` for the server (image names come from anyone who
   * may create a Pod), `private` for the CLI (its user names the registries). @default 'public'
   */
  readonly unlistedReach?: 'public' | 'private';
  /** What refusals tell the user to list, in the caller's words. @default the server's config keys and chart values */
  readonly trust?: TrustHints;
  /**
   * Mirrors and pull-through caches by the registry they stand in for (`docker.io`, `127.0.0.1:5000`):
   * URLs (`https://mirror.corp`, `http://10.0.0.5:5000/cache`) tried in order, asked once each (no
   * retries), before the registry itself. Mirror hosts may resolve to loopback and private addresses,
   * and `http://` ones are plain HTTP without being listed in `insecure`. @default {}
   */
  readonly mirrors?: Readonly<Record<string, readonly string[]>>;
  /** Positive-result cache. @default { ttlSeconds: 300, maxEntries: 10000 } */
  readonly cache?: { readonly ttlSeconds: number; readonly maxEntries: number };
  readonly observer?: RegistryObserver;
  /**
   * Retries of idempotent requests on transient failures, within each lookup's deadline: `retries`
   * after the first try (at most 5), full-jitter backoff from `baseDelayMs` doubling up to `maxDelayMs`.
   * @default { retries: 2, baseDelayMs: 100, maxDelayMs: 1000 }
   */
  readonly retry?: { readonly retries?: number; readonly baseDelayMs?: number; readonly maxDelayMs?: number };
  /**
   * Environment whose HTTPS_PROXY, HTTP_PROXY and NO_PROXY (or their lower-case forms) send requests
   * through a proxy, read once here. The CLI and the server pass `process.env`.
   * @default {} (every request goes directly)
   */
  readonly proxyEnv?: Readonly<Record<string, string | undefined>>;
  /** DNS lookup used for connections (tests map names to addresses with it). @default node:dns lookup */
  readonly lookup?: (hostname: string) => Promise<readonly LookupAddress[]>;
}
