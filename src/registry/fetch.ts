// Learning a manifest's digest from a registry's answer: headers, the exact body bytes, and confirmation.
import { RegistryError, RegistryErrorCode } from '../errors/index.ts';
import { isValidDigest } from '../reference/index.ts';
import type { Target } from './auth.ts';
import { isWebPage, notARegistry, readErrorBody } from './diagnose.ts';
import { bodyFailure, lookupName, statusFailure } from './failure.ts';
import { MAX_MANIFEST_BYTES, checkManifestBody, digestOf, isManifestProblem, isSchema1, mediaTypeOf } from './manifest.ts';
import type { ManifestProblem } from './manifest.ts';
import { discard, firstHeader, readLimited } from './transport.ts';
import type { HttpResponse } from './transport.ts';

/** What one lookup learned, and with which credential, so the cache can scope it. */
export interface Learned {
  readonly digest: string;
  readonly mediaType: string;
  readonly fingerprint: string;
}

/** The digest from a HEAD (or GET) response's headers; undefined when a body has to be hashed. */
export function learnFromHeaders(response: HttpResponse, target: Target, scope: string): Learned | undefined {
  const mediaType = mediaTypeOf(firstHeader(response.headers['content-type']));
  if (isSchema1(mediaType)) throw manifestProblem({ kind: 'schema1', mediaType }, response, target);
  const digest = headerDigest(response, target);
  if (digest === undefined || mediaType === '') return undefined;
  return { digest, mediaType, fingerprint: scope };
}

/**
 * The digest of a GET body: exact bytes, at most 4 MiB, checked against its headers. `vouched` tells
 * whether a Docker-Content-Digest came with the body and matched it; without one the digest still
 * needs the registry's confirmation. `bytes` is the body, for a caller that reads the manifest itself.
 */
export async function learnFromBody(
  response: HttpResponse,
  target: Target,
  scope: string,
): Promise<{ readonly learned: Learned; readonly vouched: boolean; readonly bytes: Buffer }> {
  if (response.status !== 200) {
    // The body is at hand: the registry's error names the cause, and a web page in its place says the
    // host is not a registry.
    const said = await readErrorBody(response);
    if (response.status === 404 && isWebPage(response, said)) throw notARegistry(response, target);
    throw statusFailure(response.status, response.url.host, target, firstHeader(response.headers['retry-after']), said);
  }
  const tooLarge = (): RegistryError =>
    new RegistryError(
      RegistryErrorCode.tooLarge,
      `manifest larger than 4 MiB for ${lookupName(target)}`,
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
  // A web page where a manifest should be: not a registry at all.
  if (isManifestProblem(checked) && checked.kind === 'malformed' && isWebPage(response)) throw notARegistry(response, target);
  if (isManifestProblem(checked)) throw manifestProblem(checked, response, target);
  return { learned: { ...checked, fingerprint: scope }, vouched: expected !== undefined, bytes };
}

/**
 * Judges the registry's answer to a request for the manifest `digest` (computed by tagpin from an
 * unvouched body): 200 confirms, with a Docker-Content-Digest that must be `digest` if present, and a
 * body (when GET) that must hash to it; 404 means the bytes tagpin received are not the registry's.
 */
export async function confirmDigest(response: HttpResponse, target: Target, digest: string, method: 'HEAD' | 'GET'): Promise<void> {
  const where = lookupName(target);
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
      `registry ${response.url.host} sent an invalid Docker-Content-Digest for ${lookupName(target).slice(target.registry.length + 1)}`,
      { image: target.image, registry: target.registry, status: response.status },
    );
  }
  return value;
}

function manifestProblem(problem: ManifestProblem, response: HttpResponse, target: Target): RegistryError {
  discard(response.body);
  const where = lookupName(target);
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
