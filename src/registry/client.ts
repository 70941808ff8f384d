// Resolves one tag to its manifest digest (or confirms a digest the registry still holds): cache scoping, single-flight, negative cache, HEAD then GET.
import { ConfigError, RegistryError, RegistryErrorCode } from '../errors/index.ts';
import type { Credential } from '../credentials/index.ts';
import { SingleFlight, TtlCache } from '../cache/index.ts';
import type { FlightBudget } from '../cache/index.ts';
import { raceDeadline } from '../deadline/index.ts';
import { registryApiHost } from '../reference/index.ts';
import type { ImageReference, Platform } from '../reference/index.ts';
import { SERVER_TRUST_HINTS } from './address.ts';
import type { TrustHints } from './address.ts';
import { compileHostGlobs } from './host-globs.ts';
import { Negotiator, manifestUrl } from './auth.ts';
import type { Target } from './auth.ts';
import { checkingScheme, explainStatus } from './diagnose.ts';
import { isTransientFailure, lookupName, statusFailure } from './failure.ts';
import type { FailureContext } from './failure.ts';
import { confirmDigest, learnFromBody, learnFromHeaders } from './fetch.ts';
import type { Learned } from './fetch.ts';
import { ANONYMOUS, fingerprint } from './fingerprint.ts';
import { MANIFEST_ACCEPT } from './manifest.ts';
import { Mirrors, mirrorImage } from './mirrors.ts';
import { platformKey, platformManifest } from './platform.ts';
import { readProxySettings, summarizeProxies } from './proxy.ts';
import type { ProxySummary } from './proxy.ts';
import { errorCause, retryPolicy, retryingSend, withRetries } from './retry.ts';
import type { RetryPolicy } from './retry.ts';
import { createTransport, firstHeader } from './transport.ts';
import type { Budget, Transport } from './transport.ts';
import type { LookupOptions, RegistryClientOptions, ResolvedImage, Resolver } from './types.ts';

/** Cache settings used when the options give none (docs/contract.md, "Configuration"). */
export const DEFAULT_CACHE = { ttlSeconds: 300, maxEntries: 10_000 } as const;

/**
 * How long an outage failure (a transient failure that outlived its retries: refused, reset, 429, 5xx)
 * answers the same lookup. Long enough that a burst of admissions during an outage costs the registry
 * one request per image every few seconds instead of three per admission; short enough that recovery
 * shows at once. Never longer than the digest cache's TTL (0 turns both off).
 */
const NEGATIVE_TTL_MS = 3000;

/** How a lookup's requests are sent: through which negotiator (and its token cache), with what retries. */
interface Route {
  readonly auth: Negotiator;
  readonly retry: RetryPolicy;
}

/**
 * What a lookup asks the registry for: the tag (`latest` when none is written), or the digest of a
 * reference that names a digest and no tag, which confirms the registry still holds that manifest.
 */
function lookedUp(ref: ImageReference): string {
  return ref.tag ?? ref.digest ?? 'latest';
}

/** What a lookup answers, from what was learned for it. */
function answerOf(ref: ImageReference, tag: string, learned: Learned, source: ResolvedImage['source']): ResolvedImage {
  return { digest: learned.digest, mediaType: learned.mediaType, registry: ref.registry, repository: ref.repository, tag, source };
}

/** The resolver behind `createRegistryClient`. */
export class RegistryClient implements Resolver {
  readonly #transport: Transport;
  /** The registry itself: retried as the options say. */
  readonly #direct: Route;
  /** Mirrors: asked once, since the registry is there to fall back on. */
  readonly #viaMirror: Route;
  readonly #mirrors: Mirrors;
  readonly #cache: TtlCache<Learned>;
  /** Outage failures by flight key: served only as the same error, never as a digest. */
  readonly #failures: TtlCache<RegistryError>;
  readonly #flights = new SingleFlight<Learned>();
  readonly #isAllowed: ((hostPort: string) => boolean) | undefined;
  readonly #observer: RegistryClientOptions['observer'];
  readonly #trust: TrustHints;
  /** The proxies requests go through, for the start-up log; undefined when none is configured. */
  readonly proxy: ProxySummary | undefined;

  constructor(options: RegistryClientOptions = {}) {
    const cache = options.cache ?? DEFAULT_CACHE;
    for (const [key, value] of Object.entries(cache)) {
      if (!Number.isFinite(value) || value < 0) {
        throw new ConfigError(`cache.${key} must be a number of 0 or more (got ${String(value)})`, { where: `cache.${key}` });
      }
    }
    const retry = retryPolicy(options.retry);
    this.#mirrors = new Mirrors(options.mirrors ?? {}, cache);
    const proxy = readProxySettings(options.proxyEnv ?? {});
    this.proxy = proxy === undefined ? undefined : summarizeProxies(proxy);
    this.#transport = createTransport({
      insecure: options.insecure ?? [],
      allow: options.allow ?? [],
      privateHosts: options.privateHosts ?? [],
      mirrorOrigins: this.#mirrors.all().map((mirror) => mirror.origin),
      unlistedReach: options.unlistedReach ?? 'public',
      trust: options.trust ?? SERVER_TRUST_HINTS,
      ca: options.ca,
      lookup: options.lookup,
      observer: options.observer,
      proxy,
    });
    // The transport with retries, for single exchanges whose body the caller reads itself or not at all;
    // a host listed as plain HTTP that speaks HTTPS is told apart once those retries are spent.
    const trust = options.trust ?? SERVER_TRUST_HINTS;
    const send = retryingSend(this.#transport.send, retry, options.observer);
    this.#direct = { auth: new Negotiator(checkingScheme(send, this.#transport.send, trust)), retry };
    this.#viaMirror = { auth: new Negotiator(checkingScheme(this.#transport.send, this.#transport.send, trust)), retry: retryPolicy({ retries: 0 }) };
    this.#cache = new TtlCache(cache.ttlSeconds * 1000, cache.maxEntries);
    this.#failures = new TtlCache(Math.min(NEGATIVE_TTL_MS, cache.ttlSeconds * 1000), cache.maxEntries);
    this.#isAllowed = (options.allow ?? []).length > 0 ? compileHostGlobs(options.allow ?? []) : undefined;
    this.#observer = options.observer;
    this.#trust = options.trust ?? SERVER_TRUST_HINTS;
  }

  peek(ref: ImageReference): ResolvedImage | undefined {
    const tag = lookedUp(ref);
    if (!this.#allowed(ref.registry)) return undefined;
    const hit = this.#cache.get(`${lookupName({ ...ref, tag })}#${ANONYMOUS}`);
    if (hit === undefined) return undefined;
    this.#observer?.onCache?.('hit');
    return answerOf(ref, tag, hit, 'cache');
  }

  async resolve(ref: ImageReference, options: LookupOptions): Promise<ResolvedImage> {
    const startedAt = Date.now();
    const tag = lookedUp(ref);
    const context: FailureContext = { image: ref.original, registry: ref.registry };
    this.#checkAllowed(ref.registry, context);

    const credentials = await this.#credentials(ref, `${ref.registry}/${ref.repository}`, options);
    const mirrors = this.#mirrors.for(ref.registry);
    // A mirror gets the credentials of its own host only (mirrorImage: none for a name that reads as Docker Hub's).
    const mirrorCredentials = await Promise.all(
      mirrors.map((mirror) => {
        const image = mirrorImage(mirror, ref.repository);
        return image === undefined ? [] : this.#credentials(ref, image, options);
      }),
    );
    // A digest learned at a mirror is scoped to the mirror's credential that got it, so those count too.
    const fingerprints = [...new Set([...credentials, ...mirrorCredentials.flat()].map((c) => fingerprint(c)))];
    const name = `${lookupName({ ...ref, tag })}${platformKey(options.platform)}`;

    // A digest learned anonymously serves anyone; one learned with a credential serves only its holders.
    for (const scope of [ANONYMOUS, ...fingerprints]) {
      const hit = this.#cache.get(`${name}#${scope}`);
      if (hit !== undefined) {
        this.#observer?.onCache?.('hit');
        return answerOf(ref, tag, hit, 'cache');
      }
    }

    const flightKey = `${name}#${fingerprints.length === 0 ? ANONYMOUS : fingerprints.join(',')}`;
    const failed = this.#failures.get(flightKey);
    if (failed !== undefined) {
      this.#observer?.onCache?.('negative');
      throw failed.forImage(ref.original, ref.registry);
    }

    const timeout = (): RegistryError =>
      options.signal?.aborted === true
        ? new RegistryError(RegistryErrorCode.timeout, `lookup of ${ref.original} was cancelled`, context)
        : new RegistryError(
            RegistryErrorCode.timeout,
            `timed out after ${Math.max(0, options.deadline - startedAt)} ms looking up ${ref.original}`,
            context,
          );
    // A spent budget must not start any request.
    if (options.signal?.aborted === true || options.deadline <= Date.now()) throw timeout();

    const target: Target = {
      ...context,
      repository: ref.repository,
      tag,
      insecure: this.#transport.isInsecure(ref.registry),
      origin: `${this.#transport.isInsecure(ref.registry) ? 'http' : 'https'}://${registryApiHost(ref.registry)}`,
      apiRoot: '/v2',
    };
    const work = async (budget: FlightBudget): Promise<Learned> => {
      try {
        return await this.#mirrors.firstAnswer(
          mirrors,
          (mirror, i, share) => {
            const at: Target = { ...target, origin: mirror.origin, apiRoot: mirror.apiRoot, namespace: ref.registry, insecure: mirror.plain };
            return this.#lookup(at, mirrorCredentials[i] ?? [], share, options.platform, this.#viaMirror);
          },
          () => this.#lookup(target, credentials, budget, options.platform),
          budget,
          (reason) => this.#observer?.onMirrorFallback?.({ registry: ref.registry, reason }),
        );
      } catch (error) {
        // Only a registry that is failing right now is remembered; a caller that gave up proves nothing.
        if (error instanceof RegistryError && isTransientFailure(error) && !budget.signal.aborted) {
          this.#failures.set(flightKey, error);
        }
        throw error;
      }
    };
    const ticket = this.#flights.join(flightKey, work, options.deadline);
    this.#observer?.onCache?.(ticket.joined ? 'coalesced' : 'miss');
    try {
      const learned = await raceDeadline(ticket.promise, options.deadline, options.signal, timeout);
      return answerOf(ref, tag, learned, ticket.joined ? 'coalesced' : 'registry');
    } catch (error) {
      // A joined flight may have been started for another spelling of this reference.
      throw error instanceof RegistryError ? error.forImage(ref.original, ref.registry) : error;
    } finally {
      ticket.leave();
    }
  }

  async close(): Promise<void> {
    this.#cache.clear();
    this.#failures.clear();
    this.#mirrors.clear();
    this.#direct.auth.clear();
    this.#viaMirror.auth.clear();
    await this.#transport.close();
  }

  /** The keyring's credentials for `ref`; a failing credential helper or plugin fails the lookup, about `ref` as written. */
  /** The keyring's credentials for `image` (the reference's own, or its name at a mirror); errors name the reference. */
  async #credentials(ref: ImageReference, image: string, options: LookupOptions): Promise<readonly Credential[]> {
    try {
      return (await options.keyring?.lookup(image, { deadline: options.deadline, signal: options.signal })) ?? [];
    } catch (error) {
      throw error instanceof RegistryError ? error.forImage(ref.original, ref.registry) : error;
    }
  }

  /** Whether `registry` may be contacted: always, unless `allow` lists hosts and it is not among them. */
  #allowed(registry: string): boolean {
    return this.#isAllowed === undefined || this.#isAllowed(registry) || this.#isAllowed(registryApiHost(registry));
  }

  #checkAllowed(registry: string, context: FailureContext): void {
    if (this.#allowed(registry)) return;
    throw new RegistryError(
      RegistryErrorCode.notAllowed,
      `registry ${registry} is not listed in ${this.#trust.allowList}, so it is not contacted`,
      context,
    );
  }

  /** The registry round trips of one lookup; the result is cached under the credential that got it. */
  async #lookup(target: Target, credentials: readonly Credential[], budget: Budget, platform: Platform | undefined, route: Route = this.#direct): Promise<Learned> {
    const url = manifestUrl(target, target.tag);
    const head = await route.auth.negotiate(target, url, 'HEAD', credentials, budget);
    const { status, headers, url: answeredBy } = head.response;
    await head.response.body.dump();
    let learned: Learned | undefined;
    if (status === 200) {
      learned = learnFromHeaders(head.response, target, head.fingerprint);
    } else if (status !== 405 && status !== 501) {
      // A mirror's failure is not explained further: the lookup falls back to the registry, which is.
      if (route === this.#viaMirror) throw statusFailure(status, answeredBy.host, target, firstHeader(headers['retry-after']));
      const inquiry = { target, authorization: head.authorization, send: this.#transport.send, budget };
      throw await explainStatus({ status, headers, url: answeredBy }, inquiry);
    }

    if (learned === undefined) {
      // No usable Docker-Content-Digest (or HEAD unsupported): hash the exact bytes, as containerd does.
      const headers: Record<string, string> = { accept: MANIFEST_ACCEPT };
      if (head.authorization !== undefined) headers['authorization'] = head.authorization;
      const scope = head.fingerprint;
      // The retry spans the body too: a connection reset halfway through a manifest is as transient as a refused one.
      const fetched = await withRetries(
        async () => learnFromBody(await this.#transport.send({ method: 'GET', url, headers, context: target }, budget), target, scope),
        (outcome) => (outcome.ok ? undefined : errorCause(outcome.error)),
        { registry: target.registry, method: 'GET', budget, policy: route.retry, observer: this.#observer },
      );
      learned = fetched.learned;
      if (!fetched.vouched) {
        // HEAD by tag answered, so HEAD by digest will; a registry without HEAD is asked with GET instead.
        await this.#confirm(target, learned.digest, headers, status === 200 ? 'HEAD' : 'GET', budget, route);
      }
    }
    if (platform !== undefined) {
      const fetch = { send: this.#transport.send, authorization: head.authorization, budget, retry: route.retry, observer: this.#observer };
      learned = await platformManifest(target, learned, platform, fetch);
    }
    this.#cache.set(`${lookupName(target)}${platformKey(platform)}#${learned.fingerprint}`, learned);
    return learned;
  }

  /**
   * Confirms that the registry knows `digest`, computed from a GET body that came without a
   * Docker-Content-Digest: nothing vouched for those bytes, and a body altered in transit that still
   * parses as a manifest would otherwise be pinned under a digest no node can pull. This costs one extra
   * request per lookup (a cache miss), and only against registries that omit the header; those that send
   * it are checked against the body they came with, or answered HEAD and needed no body at all.
   * Same Accept, Authorization, deadline and retries as the lookup; a 404 means the registry does not
   * have these bytes.
   */
  async #confirm(target: Target, digest: string, headers: Readonly<Record<string, string>>, method: 'HEAD' | 'GET', budget: Budget, route: Route): Promise<void> {
    const url = manifestUrl(target, digest);
    await withRetries(
      async () => confirmDigest(await this.#transport.send({ method, url, headers, context: target }, budget), target, digest, method),
      (outcome) => (outcome.ok ? undefined : errorCause(outcome.error)),
      { registry: target.registry, method, budget, policy: route.retry, observer: this.#observer },
    );
  }
}
