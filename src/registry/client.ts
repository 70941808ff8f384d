// Resolves one tag to its manifest digest: auth negotiation, HEAD, GET fallback, checks, cache scoping.
import { ConfigError, RegistryError, RegistryErrorCode } from '../errors/index.ts';
import type { Credential } from '../credentials/types.ts';
import { registryApiHost } from '../reference/index.ts';
import type { ImageReference } from '../reference/index.ts';
import { compileHostGlobs } from './address.ts';
import { SingleFlight, TtlCache, raceSignal } from './cache.ts';
import type { FlightBudget } from './cache.ts';
import { pickChallenge } from './challenge.ts';
import type { AuthChallenge } from './challenge.ts';
import { bodyFailure, describeStatus, isTransientFailure, relabel, statusFailure } from './failure.ts';
import type { FailureContext } from './failure.ts';
import { ANONYMOUS, fingerprint } from './fingerprint.ts';
import {
  MANIFEST_ACCEPT,
  MAX_MANIFEST_BYTES,
  checkManifestBody,
  digestOf,
  isManifestProblem,
  isSchema1,
  isValidDigest,
  mediaTypeOf,
} from './manifest.ts';
import type { ManifestProblem } from './manifest.ts';
import { errorCause, retryPolicy, retryingSend, withRetries } from './retry.ts';
import type { RetryPolicy } from './retry.ts';
import { TokenSource, basicAuthorization } from './token.ts';
import { createTransport, discard, firstHeader, readLimited } from './transport.ts';
import type { Budget, HttpResponse, Send, Transport } from './transport.ts';
import type { LookupOptions, RegistryClientOptions, ResolvedImage, Resolver } from './types.ts';

/** Cache settings used when the options give none (DESIGN "configuration" defaults). */
export const DEFAULT_CACHE = { ttlSeconds: 300, maxEntries: 10_000 } as const;

/** Remembered challenges are per registry origin; this bounds them against hostile image lists. */
const MAX_REMEMBERED_CHALLENGES = 1000;

/**
 * How long an outage failure (a transient failure that outlived its retries: refused, reset, 429, 5xx)
 * answers the same lookup. Long enough that a burst of admissions during an outage costs the registry
 * one request per image every few seconds instead of three per admission; short enough that recovery
 * shows at once. Never longer than the digest cache's TTL (0 turns both off).
 */
export const NEGATIVE_TTL_MS = 3000;

/** What one lookup learned, and with which credential, so the cache can scope it. */
interface Learned {
  readonly digest: string;
  readonly mediaType: string;
  readonly fingerprint: string;
}

/** Everything a lookup needs to know about where it goes. */
interface Target extends FailureContext {
  readonly repository: string;
  readonly tag: string;
  /** `https://registry-1.docker.io`, `http://127.0.0.1:5000`. */
  readonly origin: string;
  readonly insecure: boolean;
}

/** Marks an answer tagpin could not get past the registry's auth. */
const REFUSED = Symbol('refused');

/** The resolver behind `createRegistryClient`. */
export class RegistryClient implements Resolver {
  readonly #transport: Transport;
  /** The transport with retries, for single exchanges whose body the caller reads itself or not at all. */
  readonly #send: Send;
  readonly #retry: RetryPolicy;
  readonly #tokens: TokenSource;
  readonly #cache: TtlCache<Learned>;
  /** Outage failures by flight key: served only as the same error, never as a digest. */
  readonly #failures: TtlCache<RegistryError>;
  readonly #flights = new SingleFlight<Learned>();
  readonly #challenges = new Map<string, AuthChallenge>();
  readonly #isAllowed: ((hostPort: string) => boolean) | undefined;
  readonly #observer: RegistryClientOptions['observer'];

  constructor(options: RegistryClientOptions = {}) {
    const cache = options.cache ?? DEFAULT_CACHE;
    for (const [key, value] of Object.entries(cache)) {
      if (!Number.isFinite(value) || value < 0) {
        throw new ConfigError(`cache.${key} must be a number of 0 or more (got ${String(value)})`, { where: `cache.${key}` });
      }
    }
    this.#retry = retryPolicy(options.retry);
    this.#transport = createTransport({
      insecure: options.insecure ?? [],
      allow: options.allow ?? [],
      ca: options.ca,
      lookup: options.lookup,
      observer: options.observer,
    });
    this.#send = retryingSend(this.#transport.send, this.#retry, options.observer);
    this.#tokens = new TokenSource(this.#send);
    this.#cache = new TtlCache(cache.ttlSeconds * 1000, cache.maxEntries);
    this.#failures = new TtlCache(Math.min(NEGATIVE_TTL_MS, cache.ttlSeconds * 1000), cache.maxEntries);
    this.#isAllowed = (options.allow ?? []).length > 0 ? compileHostGlobs(options.allow ?? []) : undefined;
    this.#observer = options.observer;
  }

  async resolve(ref: ImageReference, options: LookupOptions): Promise<ResolvedImage> {
    const startedAt = Date.now();
    const tag = ref.tag ?? 'latest';
    const context: FailureContext = { image: ref.original, registry: ref.registry };
    this.#checkAllowed(ref.registry, context);

    const credentials = options.keyring?.lookup(`${ref.registry}/${ref.repository}`) ?? [];
    const fingerprints = [...new Set(credentials.map((c) => fingerprint(c)))];
    const name = `${ref.registry}/${ref.repository}:${tag}`;
    const answer = (learned: Learned, source: ResolvedImage['source']): ResolvedImage => ({
      digest: learned.digest,
      mediaType: learned.mediaType,
      registry: ref.registry,
      repository: ref.repository,
      tag,
      source,
    });

    // A digest learned anonymously serves anyone; one learned with a credential serves only its holders.
    for (const scope of [ANONYMOUS, ...fingerprints]) {
      const hit = this.#cache.get(`${name}#${scope}`);
      if (hit !== undefined) {
        this.#observer?.onCache?.('hit');
        return answer(hit, 'cache');
      }
    }

    const flightKey = `${name}#${fingerprints.length === 0 ? ANONYMOUS : fingerprints.join(',')}`;
    const failed = this.#failures.get(flightKey);
    if (failed !== undefined) {
      this.#observer?.onCache?.('negative');
      throw relabel(failed, ref.original, ref.registry);
    }

    const deadline = deadlineSignal(options);
    const timeout = (): RegistryError =>
      options.signal?.aborted === true
        ? new RegistryError(RegistryErrorCode.timeout, `lookup of ${ref.original} was cancelled`, context)
        : new RegistryError(
            RegistryErrorCode.timeout,
            `timed out after ${Math.max(0, options.deadline - startedAt)} ms looking up ${ref.original}`,
            context,
          );
    // AbortSignal.timeout(0) fires on a later tick; a spent budget must not start any request.
    if (deadline.aborted || options.deadline <= Date.now()) throw timeout();

    const target: Target = {
      ...context,
      repository: ref.repository,
      tag,
      insecure: this.#transport.isInsecure(ref.registry),
      origin: `${this.#transport.isInsecure(ref.registry) ? 'http' : 'https'}://${registryApiHost(ref.registry)}`,
    };
    const work = async (budget: FlightBudget): Promise<Learned> => {
      try {
        return await this.#lookup(target, credentials, budget);
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
      const learned = await raceSignal(ticket.promise, deadline, timeout);
      return answer(learned, ticket.joined ? 'coalesced' : 'registry');
    } catch (error) {
      // A joined flight may have been started for another spelling of this reference.
      throw error instanceof RegistryError ? relabel(error, ref.original, ref.registry) : error;
    } finally {
      ticket.leave();
    }
  }

  async close(): Promise<void> {
    this.#cache.clear();
    this.#failures.clear();
    this.#tokens.clear();
    this.#challenges.clear();
    await this.#transport.close();
  }

  #checkAllowed(registry: string, context: FailureContext): void {
    if (this.#isAllowed === undefined) return;
    if (this.#isAllowed(registry) || this.#isAllowed(registryApiHost(registry))) return;
    throw new RegistryError(
      RegistryErrorCode.notAllowed,
      `registry ${registry} is not listed in registries.allow, so it is not contacted`,
      context,
    );
  }

  /** The registry round trips of one lookup; the result is cached under the credential that got it. */
  async #lookup(target: Target, credentials: readonly Credential[], budget: Budget): Promise<Learned> {
    const url = new URL(`/v2/${target.repository}/manifests/${target.tag}`, target.origin);
    const head = await this.#negotiate(target, url, 'HEAD', credentials, budget);
    const { status, headers, url: answeredBy } = head.response;
    await head.response.body.dump();
    let learned: Learned | undefined;
    if (status === 200) {
      learned = learnFromHeaders(head.response, target, head.fingerprint);
    } else if (status !== 405 && status !== 501) {
      throw statusFailure(status, answeredBy.host, target, firstHeader(headers['retry-after']));
    }

    if (learned === undefined) {
      // No usable Docker-Content-Digest (or HEAD unsupported): hash the exact bytes, as containerd does.
      const headers: Record<string, string> = { accept: MANIFEST_ACCEPT };
      if (head.authorization !== undefined) headers['authorization'] = head.authorization;
      const scope = head.fingerprint;
      // The retry spans the body too: a connection reset halfway through a manifest is as transient as a refused one.
      const fetched = await withRetries(
        async () => learnFromBody(await this.#transport.send({ method: 'GET', url, headers, context: target }, budget), target, scope),
        (outcome) => (outcome.ok ? undefined : errorCause(outcome.error, url.host)),
        { method: 'GET', budget, policy: this.#retry, observer: this.#observer },
      );
      learned = fetched.learned;
      if (!fetched.vouched) {
        // HEAD by tag answered, so HEAD by digest will; a registry without HEAD is asked with GET instead.
        await this.#confirm(target, learned.digest, headers, status === 200 ? 'HEAD' : 'GET', budget);
      }
    }
    this.#cache.set(`${target.registry}/${target.repository}:${target.tag}#${learned.fingerprint}`, learned);
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
  async #confirm(target: Target, digest: string, headers: Readonly<Record<string, string>>, method: 'HEAD' | 'GET', budget: Budget): Promise<void> {
    const url = new URL(`/v2/${target.repository}/manifests/${digest}`, target.origin);
    await withRetries(
      async () => confirmDigest(await this.#transport.send({ method, url, headers, context: target }, budget), target, digest, method),
      (outcome) => (outcome.ok ? undefined : errorCause(outcome.error, url.host)),
      { method, budget, policy: this.#retry, observer: this.#observer },
    );
  }

  /**
   * Sends `method` anonymously first, then with each matching credential in keyring order, answering
   * Basic and Bearer challenges; returns the first response that is neither 401 nor 403.
   */
  async #negotiate(
    target: Target,
    url: URL,
    method: 'HEAD' | 'GET',
    credentials: readonly Credential[],
    budget: Budget,
  ): Promise<{ readonly response: HttpResponse; readonly authorization: string | undefined; readonly fingerprint: string }> {
    let challenge = this.#challenges.get(target.origin);
    // Against a known Basic registry an anonymous try is a wasted round trip when credentials exist.
    const skipAnonymous = challenge?.scheme === 'basic' && credentials.length > 0;
    const attempts: readonly (Credential | undefined)[] = skipAnonymous ? credentials : [undefined, ...credentials];
    const rejected: string[] = [];
    let lastStatus = 401;
    let sawChallenge = challenge !== undefined;

    for (const credential of attempts) {
      for (let round = 0; round < 2; round += 1) {
        const authorization = challenge === undefined ? undefined : await this.#authorize(challenge, credential, target, budget);
        if (authorization === REFUSED) break;
        // Credentials only ever answer a challenge; without one they are not sent anywhere. And a
        // second round that would send nothing new (anonymous against Basic) is a wasted request.
        if (authorization === undefined && (credential !== undefined || round > 0)) break;
        const headers: Record<string, string> = { accept: MANIFEST_ACCEPT };
        if (authorization !== undefined) headers['authorization'] = authorization;
        const response = await this.#send({ method, url, headers, context: target }, budget);
        if (response.status !== 401 && response.status !== 403) {
          return { response, authorization, fingerprint: fingerprint(credential) };
        }
        await response.body.dump();
        lastStatus = response.status;
        // Only the registry itself may ask for its credentials: a host it redirected to is not the
        // registry they are for, and the realm such a host names is not the registry's.
        if (response.url.origin !== url.origin) throw redirectedChallenge(target, response);
        const next = pickChallenge(response.headers['www-authenticate']);
        if (next !== undefined && !sameChallenge(next, challenge)) {
          challenge = next;
          sawChallenge = true;
          this.#remember(target.origin, next);
          continue;
        }
        break;
      }
      if (credential !== undefined) rejected.push(credential.source);
    }
    throw unauthorized(target, credentials, rejected, lastStatus, sawChallenge);
  }

  /** The Authorization header for `credential` under `challenge`; undefined when it has none to offer. */
  async #authorize(
    challenge: AuthChallenge,
    credential: Credential | undefined,
    target: Target,
    budget: Budget,
  ): Promise<string | undefined | typeof REFUSED> {
    if (challenge.scheme === 'basic') return basicAuthorization(credential);
    if (credential !== undefined && credential.identityToken === undefined && basicAuthorization(credential) === undefined) {
      return undefined;
    }
    const outcome = await this.#tokens.token(
      {
        realm: challenge.realm,
        service: challenge.service,
        scope: `repository:${target.repository}:pull`,
        credential,
        insecureRegistry: target.insecure,
        context: target,
      },
      budget,
    );
    return outcome.granted ? `Bearer ${outcome.token}` : REFUSED;
  }

  #remember(origin: string, challenge: AuthChallenge): void {
    if (!this.#challenges.has(origin) && this.#challenges.size >= MAX_REMEMBERED_CHALLENGES) {
      const oldest = this.#challenges.keys().next();
      if (oldest.done !== true) this.#challenges.delete(oldest.value);
    }
    this.#challenges.set(origin, challenge);
  }
}

/** An abort signal for the caller's deadline and its own signal, whichever comes first. */
function deadlineSignal(options: LookupOptions): AbortSignal {
  const remaining = Math.max(0, Math.floor(options.deadline - Date.now()));
  const timer = AbortSignal.timeout(remaining);
  return options.signal === undefined ? timer : AbortSignal.any([timer, options.signal]);
}

/** A host the registry redirected to asked for credentials; none are sent to it or to a realm it names. */
function redirectedChallenge(target: Target, response: HttpResponse): RegistryError {
  return new RegistryError(
    RegistryErrorCode.unauthorized,
    `unauthorized: ${target.registry} redirected to ${response.url.host}, which answered ${describeStatus(response.status)}; credentials for ${target.registry} are not sent to another host`,
    { image: target.image, registry: target.registry, status: response.status },
  );
}

function sameChallenge(a: AuthChallenge, b: AuthChallenge | undefined): boolean {
  if (b === undefined || a.scheme !== b.scheme || a.realm !== b.realm) return false;
  return a.scheme === 'basic' || b.scheme === 'basic' || a.service === b.service;
}

function unauthorized(
  target: Target,
  credentials: readonly Credential[],
  rejected: readonly string[],
  status: number,
  sawChallenge: boolean,
): RegistryError {
  const fields = { image: target.image, registry: target.registry, status };
  const code = status === 403 ? RegistryErrorCode.denied : RegistryErrorCode.unauthorized;
  if (!sawChallenge) {
    return new RegistryError(
      code,
      `unauthorized: ${target.registry} answered ${describeStatus(status)} without a Basic or Bearer challenge`,
      fields,
    );
  }
  if (credentials.length === 0) {
    return new RegistryError(code, `unauthorized: no credentials matched ${target.registry}`, fields);
  }
  const sources = [...new Set(rejected.length > 0 ? rejected : credentials.map((c) => c.source))];
  return new RegistryError(
    code,
    `unauthorized: credentials from ${sources.join(', ')} were rejected by ${target.registry}`,
    fields,
  );
}

/** The digest from a HEAD (or GET) response's headers; undefined when a body has to be hashed. */
function learnFromHeaders(response: HttpResponse, target: Target, scope: string): Learned | undefined {
  const mediaType = mediaTypeOf(firstHeader(response.headers['content-type']));
  if (isSchema1(mediaType)) throw manifestProblem({ kind: 'schema1', mediaType }, response, target);
  const digest = headerDigest(response, target);
  if (digest === undefined || mediaType === '') return undefined;
  return { digest, mediaType, fingerprint: scope };
}

/**
 * The digest of a GET body: exact bytes, at most 4 MiB, checked against its headers. `vouched` tells
 * whether a Docker-Content-Digest came with the body and matched it; without one the digest still
 * needs the registry's confirmation.
 */
async function learnFromBody(
  response: HttpResponse,
  target: Target,
  scope: string,
): Promise<{ readonly learned: Learned; readonly vouched: boolean }> {
  if (response.status !== 200) {
    await response.body.dump();
    throw statusFailure(response.status, response.url.host, target, firstHeader(response.headers['retry-after']));
  }
  const tooLarge = (): RegistryError =>
    new RegistryError(
      RegistryErrorCode.tooLarge,
      `manifest larger than 4 MiB for ${target.registry}/${target.repository}:${target.tag}`,
      { image: target.image, registry: target.registry, status: response.status },
    );
  const declaredLength = Number(firstHeader(response.headers['content-length']));
  if (Number.isFinite(declaredLength) && declaredLength > MAX_MANIFEST_BYTES) {
    discard(response.body);
    throw tooLarge();
  }
  const contentType = firstHeader(response.headers['content-type']);
  const expected = headerDigest(response, target);
  const bytes = await readLimited(response.body, MAX_MANIFEST_BYTES).catch((error: unknown) => {
    throw bodyFailure(error, response.url.host, 'the manifest', target);
  });
  if (bytes === undefined) throw tooLarge();
  const checked = checkManifestBody(bytes, contentType, expected);
  if (isManifestProblem(checked)) throw manifestProblem(checked, response, target);
  return { learned: { ...checked, fingerprint: scope }, vouched: expected !== undefined };
}

/**
 * Judges the registry's answer to a request for the manifest `digest` (computed by tagpin from an
 * unvouched body): 200 confirms, with a Docker-Content-Digest that must be `digest` if present, and a
 * body (when GET) that must hash to it; 404 means the bytes tagpin received are not the registry's.
 */
async function confirmDigest(response: HttpResponse, target: Target, digest: string, method: 'HEAD' | 'GET'): Promise<void> {
  const where = `${target.registry}/${target.repository}:${target.tag}`;
  const fields = { image: target.image, registry: target.registry, status: response.status };
  if (response.status === 404) {
    await response.body.dump();
    throw new RegistryError(
      RegistryErrorCode.digestMismatch,
      `manifest for ${where} from ${response.url.host} hashes to ${digest}, which the registry does not know (body altered in transit?)`,
      fields,
    );
  }
  if (response.status !== 200) {
    await response.body.dump();
    throw statusFailure(response.status, response.url.host, target, firstHeader(response.headers['retry-after']));
  }
  const stated = headerDigest(response, target);
  if (stated !== undefined && stated !== digest) {
    await response.body.dump();
    throw new RegistryError(
      RegistryErrorCode.digestMismatch,
      `manifest for ${where} from ${response.url.host} hashes to ${digest}, but the registry answers that digest with Docker-Content-Digest ${stated}`,
      fields,
    );
  }
  if (method === 'HEAD') {
    await response.body.dump();
    return;
  }
  const bytes = await readLimited(response.body, MAX_MANIFEST_BYTES).catch((error: unknown) => {
    throw bodyFailure(error, response.url.host, 'the manifest', target);
  });
  const served = bytes === undefined ? 'more than 4 MiB' : digestOf(bytes);
  if (served !== digest) {
    throw new RegistryError(
      RegistryErrorCode.digestMismatch,
      `manifest for ${where} from ${response.url.host} hashes to ${digest}, but the registry serves ${served} under that digest`,
      fields,
    );
  }
}

/** A syntactically valid Docker-Content-Digest, undefined when absent; a malformed one is an error. */
function headerDigest(response: HttpResponse, target: Target): string | undefined {
  const value = firstHeader(response.headers['docker-content-digest'])?.trim();
  if (value === undefined || value === '') return undefined;
  if (!isValidDigest(value)) {
    discard(response.body);
    throw new RegistryError(
      RegistryErrorCode.badResponse,
      `registry ${response.url.host} sent an invalid Docker-Content-Digest for ${target.repository}:${target.tag}`,
      { image: target.image, registry: target.registry, status: response.status },
    );
  }
  return value;
}

function manifestProblem(problem: ManifestProblem, response: HttpResponse, target: Target): RegistryError {
  discard(response.body);
  const where = `${target.registry}/${target.repository}:${target.tag}`;
  const fields = { image: target.image, registry: target.registry, status: response.status };
  switch (problem.kind) {
    case 'schema1':
      return new RegistryError(
        RegistryErrorCode.unsupportedManifest,
        `${where} is a schema1 manifest (${problem.mediaType}), which cannot be pinned; push it again with a current client`,
        fields,
      );
    case 'mismatch':
      return new RegistryError(
        RegistryErrorCode.digestMismatch,
        `registry ${response.url.host} sent Docker-Content-Digest ${problem.header} for ${where} but the manifest hashes to ${problem.computed}`,
        fields,
      );
    case 'malformed':
      return new RegistryError(
        RegistryErrorCode.badResponse,
        `registry ${response.url.host} sent a bad manifest for ${where}: ${problem.detail}`,
        fields,
      );
  }
}
