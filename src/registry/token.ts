// Bearer tokens from a registry's token realm: anonymous, Basic or identity-token grants, cached until near expiry.
import { RegistryError, RegistryErrorCode } from '../errors/index.ts';
import type { Credential } from '../credentials/index.ts';
import { bodyFailure, describeStatus, parseRetryAfter } from './failure.ts';
import type { FailureContext } from './failure.ts';
import { fingerprint } from './fingerprint.ts';
import { firstHeader, readLimited } from './transport.ts';
import type { Budget, HttpRequest, HttpResponse, Send } from './transport.ts';

/** Lifetime assumed when the token server gives none, and the least it may claim (docker token spec). */
const MIN_TOKEN_SECONDS = 60;
/** Tokens are renewed this long before they expire, so one never dies in flight. */
const REFRESH_MARGIN_MS = 10_000;
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;
const MAX_CACHED_TOKENS = 1000;

/** What to ask a token realm for. */
export interface TokenQuery {
  readonly realm: string;
  readonly service: string | undefined;
  /** `repository:<name>:pull`. */
  readonly scope: string;
  /** Undefined asks anonymously. */
  readonly credential: Credential | undefined;
  /** The registry is plain HTTP, so an http realm is acceptable too. */
  readonly insecureRegistry: boolean;
  readonly context: FailureContext;
}

/** A token, or the realm's refusal (401/403) of these credentials. */
export type TokenOutcome = { readonly granted: true; readonly token: string } | { readonly granted: false };

/** Fetches tokens through `send` and caches them by realm, service, scope and credential fingerprint. */
export class TokenSource {
  readonly #send: Send;
  readonly #now: () => number;
  readonly #cache = new Map<string, { readonly token: string; readonly expiresAt: number }>();

  constructor(send: Send, now: () => number = Date.now) {
    this.#send = send;
    this.#now = now;
  }

  /** A cached token when one is fresh, else a new one from the realm. */
  async token(query: TokenQuery, budget: Budget): Promise<TokenOutcome> {
    const key = JSON.stringify([query.realm, query.service ?? '', query.scope, fingerprint(query.credential)]);
    const cached = this.#cache.get(key);
    if (cached !== undefined && cached.expiresAt - REFRESH_MARGIN_MS > this.#now()) {
      return { granted: true, token: cached.token };
    }
    this.#cache.delete(key);

    const realm = checkRealm(query);
    const startedAt = this.#now();
    const response = await this.#exchange(realm, query, budget);
    if (response.status === 401 || response.status === 403) {
      await response.body.dump();
      return { granted: false };
    }
    const realmHost = response.url.host;
    if (response.status !== 200) {
      await response.body.dump();
      throw tokenStatusFailure(response, realmHost, query.context);
    }
    const body = await readLimited(response.body, MAX_TOKEN_RESPONSE_BYTES).catch((error: unknown) => {
      throw bodyFailure(error, realmHost, 'the token response', query.context);
    });
    const parsed = parseTokenResponse(body);
    if (parsed === undefined) {
      throw new RegistryError(RegistryErrorCode.token, `token server ${realmHost} returned no usable token`, {
        image: query.context.image,
        registry: query.context.registry,
        status: response.status,
      });
    }
    const issuedAt = parsed.issuedAt !== undefined && parsed.issuedAt <= startedAt ? parsed.issuedAt : startedAt;
    this.#remember(key, { token: parsed.token, expiresAt: issuedAt + parsed.expiresInSeconds * 1000 });
    return { granted: true, token: parsed.token };
  }

  /** Forgets every token (used on close). */
  clear(): void {
    this.#cache.clear();
  }

  async #exchange(realm: URL, query: TokenQuery, budget: Budget): Promise<HttpResponse> {
    const { credential, context } = query;
    if (credential?.identityToken !== undefined) {
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: credential.identityToken,
        ...(query.service === undefined ? {} : { service: query.service }),
        scope: query.scope,
        client_id: 'tagpin',
      });
      const posted = await this.#send(
        {
          method: 'POST',
          url: realm,
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: form.toString(),
          context,
          plainHttpAllowed: query.insecureRegistry,
        },
        budget,
      );
      // Token servers without the OAuth2 endpoint answer 404; the GET flow is the fallback.
      if (posted.status !== 404) return posted;
      await posted.body.dump();
    }
    const url = new URL(realm);
    if (query.service !== undefined) url.searchParams.set('service', query.service);
    url.searchParams.append('scope', query.scope);
    const headers: Record<string, string> = { accept: 'application/json' };
    const basic = basicAuthorization(credential);
    if (basic !== undefined) headers['authorization'] = basic;
    const request: HttpRequest = { method: 'GET', url, headers, context, plainHttpAllowed: query.insecureRegistry };
    return this.#send(request, budget);
  }

  #remember(key: string, entry: { readonly token: string; readonly expiresAt: number }): void {
    if (this.#cache.size >= MAX_CACHED_TOKENS) {
      const oldest = this.#cache.keys().next();
      if (oldest.done !== true) this.#cache.delete(oldest.value);
    }
    this.#cache.set(key, entry);
  }
}

/** `Basic base64(user:password)` when the credential has both; undefined otherwise. */
export function basicAuthorization(credential: Credential | undefined): string | undefined {
  if (credential?.username === undefined || credential.password === undefined) return undefined;
  return `Basic ${Buffer.from(`${credential.username}:${credential.password}`, 'utf8').toString('base64')}`;
}

/** A parsed token response: `token` or `access_token`, `expires_in` at least 60 s, `issued_at` in epoch ms. */
export function parseTokenResponse(
  body: Buffer | undefined,
): { readonly token: string; readonly expiresInSeconds: number; readonly issuedAt: number | undefined } | undefined {
  if (body === undefined) return undefined;
  let document: unknown;
  try {
    document = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof document !== 'object' || document === null) return undefined;
  const fields = document as Record<string, unknown>;
  const token = nonEmpty(fields['token']) ?? nonEmpty(fields['access_token']);
  if (token === undefined) return undefined;
  const expiresIn = fields['expires_in'];
  const expiresInSeconds =
    typeof expiresIn === 'number' && Number.isFinite(expiresIn) ? Math.max(MIN_TOKEN_SECONDS, expiresIn) : MIN_TOKEN_SECONDS;
  const issued = typeof fields['issued_at'] === 'string' ? Date.parse(fields['issued_at']) : Number.NaN;
  return { token, expiresInSeconds, issuedAt: Number.isNaN(issued) ? undefined : issued };
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The realm as a URL, refused unless HTTPS (or HTTP for an insecure registry). */
function checkRealm(query: TokenQuery): URL {
  const fields = { image: query.context.image, registry: query.context.registry };
  let realm: URL;
  try {
    realm = new URL(query.realm);
  } catch {
    throw new RegistryError(RegistryErrorCode.token, `registry ${query.context.registry} named an invalid token realm`, fields);
  }
  const httpAllowed = query.insecureRegistry && realm.protocol === 'http:';
  if (realm.protocol !== 'https:' && !httpAllowed) {
    throw new RegistryError(
      RegistryErrorCode.token,
      `registry ${query.context.registry} named token realm ${realm.protocol}//${realm.host}, which is not HTTPS`,
      fields,
    );
  }
  return realm;
}

function tokenStatusFailure(response: HttpResponse, host: string, context: FailureContext): RegistryError {
  const fields = { image: context.image, registry: context.registry, status: response.status };
  if (response.status === 429) {
    const seconds = parseRetryAfter(firstHeader(response.headers['retry-after']));
    return new RegistryError(
      RegistryErrorCode.rateLimited,
      `rate limited by token server ${host}${seconds === undefined ? '' : `, retry after ${seconds} s`}`,
      { ...fields, ...(seconds === undefined ? {} : { retryAfterSeconds: seconds }) },
    );
  }
  return new RegistryError(RegistryErrorCode.token, `token server ${host} answered ${describeStatus(response.status)}`, fields);
}
