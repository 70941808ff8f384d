// Learning why a lookup failed when the answer alone does not say: one or two more requests, on the failure path only.
import { RegistryError, RegistryErrorCode } from '../errors/index.ts';
import { pickChallenge } from './challenge.ts';
import type { TrustHints } from './address.ts';
import type { Target } from './auth.ts';
import { codeInChain } from './cause.ts';
import { parseErrorBody } from './error-body.ts';
import type { RegistrySaid } from './error-body.ts';
import { describeStatus, notFoundFailure, statusFailure } from './failure.ts';
import type { FailureContext } from './failure.ts';
import { mediaTypeOf } from './manifest.ts';
import { isCertificateFailure, isPlainTextAnswer } from './tls-failure.ts';
import { firstHeader, readLimited } from './transport.ts';
import type { Budget, HttpRequest, HttpResponse, Send } from './transport.ts';

/** Error bodies are a few hundred bytes; anything longer is not one worth reading. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Socket endings of a plain-HTTP request that a TLS server gives: it hung up, or answered bytes that are not HTTP. */
const PLAIN_HTTP_BROKE_OFF = /^(UND_ERR_SOCKET|ECONNRESET|EPIPE|HPE_)/;

/** The status, headers and origin of an answer, whose body is already gone. */
export type Answer = Pick<HttpResponse, 'status' | 'headers' | 'url'>;

/** Reads a failed answer's body (at most 64 KiB) for the registry's error; undefined when it has none. */
export async function readErrorBody(response: HttpResponse): Promise<RegistrySaid | undefined> {
  try {
    return parseErrorBody(await readLimited(response.body, MAX_ERROR_BODY_BYTES));
  } catch {
    // A body that breaks off tells nothing more than its status.
    return undefined;
  }
}

/**
 * True when an answer bears a mark of the registry API: a `Docker-Distribution-API-Version` header, a
 * JSON Content-Type, or an error body. A web server's HTML or plain-text page has none of them.
 */
export function looksLikeRegistry(answer: Pick<HttpResponse, 'headers'>, said?: RegistrySaid): boolean {
  if (said !== undefined) return true;
  if (firstHeader(answer.headers['docker-distribution-api-version']) !== undefined) return true;
  const type = mediaTypeOf(firstHeader(answer.headers['content-type']));
  return type === 'application/json' || type.endsWith('+json');
}

/**
 * True when a GET answer is a page of some other server: it has a Content-Type, and no mark of the
 * registry API. An empty answer without one proves nothing either way.
 */
export function isWebPage(answer: Pick<HttpResponse, 'headers'>, said?: RegistrySaid): boolean {
  return mediaTypeOf(firstHeader(answer.headers['content-type'])) !== '' && !looksLikeRegistry(answer, said);
}

/** `HOST is not a container registry (GET /v2/ answered 404 Not Found, text/html)`. */
export function notARegistry(answer: Answer, context: FailureContext): RegistryError {
  // The answer is the peer's to write (a redirect may choose the path): keep it short.
  const type = mediaTypeOf(firstHeader(answer.headers['content-type'])).slice(0, 100) || 'no Content-Type';
  const path = answer.url.pathname.length > 100 ? `${answer.url.pathname.slice(0, 99)}…` : answer.url.pathname;
  return new RegistryError(
    RegistryErrorCode.notARegistry,
    `${answer.url.host} is not a container registry (GET ${path} answered ${describeStatus(answer.status)}, ${type})`,
    { image: context.image, registry: context.registry, status: answer.status },
  );
}

/** What explaining a failed manifest request may use: its target, the Authorization that got past auth, one exchange. */
export interface Inquiry {
  readonly target: Target;
  readonly authorization: string | undefined;
  /** One exchange without retries: a question asked to explain a failure is asked once. */
  readonly send: Send;
  readonly budget: Budget;
}

/**
 * The error for a HEAD of a manifest that the registry answered with `answer` (not 200; auth already
 * done). A 404 has no body to tell a missing tag from a missing repository, or a registry from a web
 * server, so it asks: `GET /v2/` when the answer bears no mark of the registry API (not one: "HOST is not
 * a container registry"), then `GET /v2/<repository>/tags/list?n=1` with the same Authorization
 * (NAME_UNKNOWN: the repository is missing). Reading the manifest's own error body would not do:
 * Distribution answers MANIFEST_UNKNOWN for a missing repository too. Any other status is final as it is.
 */
export async function explainStatus(answer: Answer, inquiry: Inquiry): Promise<RegistryError> {
  const { target } = inquiry;
  const plain = statusFailure(answer.status, answer.url.host, target, firstHeader(answer.headers['retry-after']));
  if (answer.status !== 404) return plain;
  try {
    if (!looksLikeRegistry(answer)) {
      const ping = await ask(inquiry, new URL('/v2/', target.origin), false);
      if (!isRegistryPing(ping)) return notARegistry(ping, target);
    }
    const tags = await ask(inquiry, new URL(`/v2/${target.repository}/tags/list?n=1`, target.origin), true);
    return tags.said?.code === 'NAME_UNKNOWN' ? notFoundFailure(target, 'repository', answer.status) : plain;
  } catch {
    // A question that fails explains nothing; the answer stands as it came.
    return plain;
  }
}

/** The answer to one GET asked to explain a failure, with the registry's error when its body held one. */
async function ask(inquiry: Inquiry, url: URL, authorized: boolean): Promise<Answer & { readonly said: RegistrySaid | undefined }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (authorized && inquiry.authorization !== undefined) headers['authorization'] = inquiry.authorization;
  const response = await inquiry.send({ method: 'GET', url, headers, context: inquiry.target }, inquiry.budget);
  let said: RegistrySaid | undefined;
  if (response.status === 200) await response.body.dump();
  else said = await readErrorBody(response);
  return { status: response.status, headers: response.headers, url: response.url, said };
}

/** `/v2/` of a registry answers 200 or 401 with the API header, JSON, or a challenge to authenticate. */
function isRegistryPing(ping: Answer & { readonly said: RegistrySaid | undefined }): boolean {
  if (firstHeader(ping.headers['docker-distribution-api-version']) !== undefined) return true;
  if (ping.status === 401 && pickChallenge(ping.headers['www-authenticate']) !== undefined) return true;
  return (ping.status === 200 || ping.status === 401) && looksLikeRegistry(ping, ping.said);
}

/**
 * `send` that tells when a host reached over plain HTTP (listed in `registries.insecure`) speaks HTTPS:
 * its answer is a 400 with no mark of the registry API (Go's "Client sent an HTTP request to an HTTPS
 * server", nginx's "plain HTTP request was sent to HTTPS port"), or the connection breaks off or answers
 * bytes that are not HTTP (a Node or OpenSSL server). Then `GET https://HOST/v2/` is asked once through
 * `probe`; any answer, or a certificate it does not trust, proves TLS, and the failure becomes
 * "HOST speaks HTTPS; remove it from …". Token realms (`plainHttpAllowed`) are left alone.
 */
export function checkingScheme(send: Send, probe: Send, trust: TrustHints): Send {
  return async (request, budget) => {
    if (request.url.protocol !== 'http:' || request.plainHttpAllowed === true) return send(request, budget);
    let response: HttpResponse;
    try {
      response = await send(request, budget);
    } catch (error) {
      const code = error instanceof RegistryError ? codeInChain(error.cause) : undefined;
      if (code === undefined || !PLAIN_HTTP_BROKE_OFF.test(code)) throw error;
      throw (await speaksHttps(request, probe, budget, trust, error)) ?? error;
    }
    if (response.status !== 400 || looksLikeRegistry(response)) return response;
    const tls = await speaksHttps(request, probe, budget, trust, undefined);
    if (tls === undefined) return response;
    await response.body.dump();
    throw tls;
  };
}

/** The "speaks HTTPS" error when `GET https://HOST/v2/` shows TLS on the port `request` spoke plain HTTP to. */
async function speaksHttps(
  request: HttpRequest,
  probe: Send,
  budget: Budget,
  trust: TrustHints,
  cause: unknown,
): Promise<RegistryError | undefined> {
  const { context } = request;
  const url = new URL('/v2/', `https://${request.url.host}`);
  let untrusted = false;
  try {
    const response = await probe({ method: 'GET', url, headers: { accept: 'application/json' }, context }, budget);
    await response.body.dump();
  } catch (error) {
    const tls = error instanceof RegistryError && error.code === RegistryErrorCode.tls && !isPlainTextAnswer(error.cause);
    if (!tls) return undefined;
    untrusted = isCertificateFailure(error.cause);
  }
  const fix = `${trust.noPlainHttp(context.registry)}${untrusted ? ` and ${trust.trustCa}` : ''}`;
  return new RegistryError(RegistryErrorCode.tls, `${request.url.host} speaks HTTPS; ${fix}`, {
    image: context.image,
    registry: context.registry,
    ...(cause === undefined ? {} : { cause }),
  });
}
