// Getting past a registry's auth: anonymous first, then each matching credential, answering Basic and Bearer challenges.
import { RegistryError, RegistryErrorCode } from '../errors/index.ts';
import type { Credential } from '../credentials/index.ts';
import { pickChallenge } from './challenge.ts';
import type { AuthChallenge } from './challenge.ts';
import { readErrorBody } from './diagnose.ts';
import { quoteSaid } from './error-body.ts';
import type { RegistrySaid } from './error-body.ts';
import { describeStatus } from './failure.ts';
import type { FailureContext } from './failure.ts';
import { fingerprint } from './fingerprint.ts';
import { MANIFEST_ACCEPT } from './manifest.ts';
import { TokenSource, basicAuthorization } from './token.ts';
import type { Budget, HttpResponse, Send } from './transport.ts';
import { raceSignal } from '../deadline/index.ts';

/** Remembered challenges are per registry origin; this bounds them against hostile image lists. */
const MAX_REMEMBERED_CHALLENGES = 1000;

/** Marks an answer tagpin could not get past the registry's auth. */
const REFUSED = Symbol('refused');

/** Where a lookup goes, for auth and for errors. */
export interface Target extends FailureContext {
  readonly repository: string;
  readonly tag: string;
  /** `https://registry-1.docker.io`, `http://127.0.0.1:5000`. */
  readonly origin: string;
  /** The registry API's path before `/<repository>/…`: `/v2`, or a mirror's own (`/cache/v2`). */
  readonly apiRoot: string;
  /**
   * The registry a mirror is asked on behalf of, sent as `?ns=` as containerd does (a mirror serving
   * several registries tells them apart by it); undefined when asking the registry itself.
   */
  readonly namespace?: string;
  readonly insecure: boolean;
}

/** The URL of the manifest `reference` (a tag or digest) of the target's repository. */
export function manifestUrl(target: Target, reference: string): URL {
  const url = new URL(`${target.apiRoot}/${target.repository}/manifests/${reference}`, target.origin);
  if (target.namespace !== undefined) url.searchParams.set('ns', target.namespace);
  return url;
}

/** The last refusal in a negotiation: the Authorization it answered, and the registry's error when its body held one. */
interface Refusal {
  readonly authorization: string | undefined;
  readonly said: RegistrySaid | undefined;
}

/** The response that got past auth, with the Authorization that did it and whose credential it was. */
export interface Negotiated {
  readonly response: HttpResponse;
  readonly authorization: string | undefined;
  readonly fingerprint: string;
}

/** Sends requests through a registry's auth, remembering each origin's challenge and caching tokens. */
export class Negotiator {
  readonly #send: Send;
  readonly #tokens: TokenSource;
  readonly #challenges = new Map<string, AuthChallenge>();
  /** Origins whose challenge a lookup is learning right now. */
  readonly #discovering = new Map<string, Promise<void>>();

  constructor(send: Send) {
    this.#send = send;
    this.#tokens = new TokenSource(send);
  }

  clear(): void {
    this.#tokens.clear();
    this.#challenges.clear();
  }

  /**
   * Sends `method` anonymously first, then with each matching credential in keyring order, answering
   * Basic and Bearer challenges; returns the first response that is neither 401 nor 403.
   */
  async negotiate(
    target: Target,
    url: URL,
    method: 'HEAD' | 'GET',
    credentials: readonly Credential[],
    budget: Budget,
  ): Promise<Negotiated> {
    // The first lookup on an origin asks anonymously and learns its challenge; lookups starting
    // meanwhile wait for that answer instead of each collecting a 401 of their own. Checked and
    // claimed before any await, so concurrent callers see each other.
    let challenge = this.#challenges.get(target.origin);
    let learned: (() => void) | undefined;
    if (challenge === undefined) {
      const discovery = this.#discovering.get(target.origin);
      if (discovery === undefined) learned = this.#discover(target.origin);
      else challenge = await this.#learnedBy(discovery, target.origin, budget);
    }
    try {
      return await this.#attempt(target, url, method, credentials, budget, challenge, () => {
        learned?.();
        learned = undefined;
      });
    } finally {
      learned?.();
    }
  }

  async #attempt(
    target: Target,
    url: URL,
    method: 'HEAD' | 'GET',
    credentials: readonly Credential[],
    budget: Budget,
    known: AuthChallenge | undefined,
    answered: () => void,
  ): Promise<Negotiated> {
    let challenge = known;
    // Against a known Basic registry an anonymous try is a wasted round trip when credentials exist.
    const skipAnonymous = challenge?.scheme === 'basic' && credentials.length > 0;
    const attempts: readonly (Credential | undefined)[] = skipAnonymous ? credentials : [undefined, ...credentials];
    const rejected: string[] = [];
    let lastStatus = 401;
    let last: Refusal = { authorization: undefined, said: undefined };
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
          // No challenge to learn (an anonymous registry): those waiting go ahead as this lookup did.
          answered();
          return { response, authorization, fingerprint: fingerprint(credential) };
        }
        lastStatus = response.status;
        // Only the registry itself may ask for its credentials: a host it redirected to is not the
        // registry they are for, and the realm such a host names is not the registry's.
        if (response.url.origin !== url.origin) {
          await response.body.dump();
          throw redirectedChallenge(target, response);
        }
        const next = pickChallenge(response.headers['www-authenticate']);
        const isNew = next !== undefined && !sameChallenge(next, challenge);
        if (isNew) {
          challenge = next;
          sawChallenge = true;
          this.#remember(target.origin, next);
        }
        // Remembered before anyone waiting resumes.
        answered();
        let said: RegistrySaid | undefined;
        if (method === 'GET') said = await readErrorBody(response);
        else await response.body.dump();
        last = { authorization, said };
        if (isNew) continue;
        break;
      }
      if (credential !== undefined) rejected.push(credential.source);
    }
    // A 403 to a HEAD has no body, and the registry's reason (an expired token, a missing permission) is
    // what tells the user what to fix: one GET, only now that the lookup has failed, reads it.
    const said = lastStatus === 403 && method === 'HEAD' ? await this.#reason(target, url, last.authorization, budget) : last.said;
    throw unauthorized(target, credentials, rejected, lastStatus, sawChallenge, { ...last, said });
  }

  /** The registry's error for a GET of `url` with `authorization`, or undefined when it gives none. */
  async #reason(target: Target, url: URL, authorization: string | undefined, budget: Budget): Promise<RegistrySaid | undefined> {
    const headers: Record<string, string> = { accept: MANIFEST_ACCEPT };
    if (authorization !== undefined) headers['authorization'] = authorization;
    try {
      const response = await this.#send({ method: 'GET', url, headers, context: target }, budget);
      if (response.status === 401 || response.status === 403) return await readErrorBody(response);
      await response.body.dump();
    } catch {
      // The refusal stands as it came.
    }
    return undefined;
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

  /** Marks `origin` as being discovered; the returned function ends that (once the first answer is in). */
  #discover(origin: string): () => void {
    let done: () => void = () => undefined;
    this.#discovering.set(origin, new Promise<void>((resolve) => {
      done = resolve;
    }));
    return () => {
      this.#discovering.delete(origin);
      done();
    };
  }

  /** Waits for the discovery of `origin` in progress and returns the challenge it learned, if any. */
  async #learnedBy(discovery: Promise<void>, origin: string, budget: Budget): Promise<AuthChallenge | undefined> {
    await raceSignal(discovery, budget.signal, () => new RegistryError(RegistryErrorCode.timeout, 'lookup cancelled while its registry was being asked for its auth challenge'));
    return this.#challenges.get(origin);
  }

  #remember(origin: string, challenge: AuthChallenge): void {
    if (!this.#challenges.has(origin) && this.#challenges.size >= MAX_REMEMBERED_CHALLENGES) {
      const oldest = this.#challenges.keys().next();
      if (oldest.done !== true) this.#challenges.delete(oldest.value);
    }
    this.#challenges.set(origin, challenge);
  }}

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
  last: Refusal,
): RegistryError {
  const fields = { image: target.image, registry: target.registry, status };
  const { said } = last;
  // The registry's code decides before the status: some answer 401 DENIED, others 403 UNAUTHORIZED.
  const denied = said?.code === 'DENIED' || (said?.code !== 'UNAUTHORIZED' && status === 403);
  const code = denied ? RegistryErrorCode.denied : RegistryErrorCode.unauthorized;
  const prefix = denied ? 'denied' : 'unauthorized';
  const words = said === undefined ? '' : ` (${quoteSaid(said, last.authorization === undefined ? [] : [last.authorization])})`;
  if (!sawChallenge) {
    return new RegistryError(
      code,
      `${prefix}: ${target.registry} answered ${describeStatus(status)} without a Basic or Bearer challenge${words}`,
      fields,
    );
  }
  if (credentials.length === 0) {
    return new RegistryError(code, `${prefix}: no credentials matched ${target.registry}${words}`, fields);
  }
  const sources = [...new Set(rejected.length > 0 ? rejected : credentials.map((c) => c.source))];
  return new RegistryError(
    code,
    `${prefix}: credentials from ${sources.join(', ')} were rejected by ${target.registry}${words}`,
    fields,
  );
}
