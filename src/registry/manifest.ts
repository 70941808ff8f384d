// Manifest media types, digest syntax and the checks a fetched manifest body must pass (pure).
import { createHash } from 'node:crypto';
import { isRecord, parseJsonBytes } from '../json/index.ts';

/** The four manifest media types tagpin asks for; the list types make registries answer with the index digest. */
export const MANIFEST_MEDIA_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
] as const;

/** The Accept header value sent with every manifest request. */
export const MANIFEST_ACCEPT = MANIFEST_MEDIA_TYPES.join(', ');

/** Largest manifest body read when the digest has to be computed (containerd's cap). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** Schema1 media types: their digest covers a JWS payload, not the body, so sha256(body) would be wrong. */
const SCHEMA1_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
  'application/vnd.docker.distribution.manifest.v1+json',
  'text/plain',
]);

/** The media type without parameters, lower-cased; '' when absent. */
export function mediaTypeOf(contentType: string | undefined): string {
  if (contentType === undefined) return '';
  const type = (contentType.split(';', 1)[0] ?? '').trim().toLowerCase();
  return SHARED_MEDIA_TYPES.get(type) ?? type;
}

/** The manifest media types as one string each: the cache holds one per entry, by the ten thousand. */
const SHARED_MEDIA_TYPES: ReadonlyMap<string, string> = new Map(MANIFEST_MEDIA_TYPES.map((type) => [type, type]));

/** True for the schema1 media types tagpin refuses. */
export function isSchema1(mediaType: string): boolean {
  return SCHEMA1_MEDIA_TYPES.has(mediaType);
}

/** `<algorithm>:<hex>` of `bytes`; the algorithm must be one `isValidDigest` accepts. */
export function digestOf(bytes: Uint8Array, algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** Why a fetched manifest body cannot be pinned. */
export type ManifestProblem =
  | { readonly kind: 'mismatch'; readonly header: string; readonly computed: string }
  | { readonly kind: 'schema1'; readonly mediaType: string }
  | { readonly kind: 'malformed'; readonly detail: string };

/** What a fetched manifest yields once its body is checked. */
export interface CheckedManifest {
  readonly digest: string;
  readonly mediaType: string;
}

/**
 * Checks a manifest body against its headers and computes its digest from the exact bytes.
 * A `Docker-Content-Digest` header must match the body; a `mediaType` field must match Content-Type;
 * schema1 is refused whether the headers or the body say so.
 */
export function checkManifestBody(
  bytes: Uint8Array,
  contentType: string | undefined,
  headerDigest: string | undefined,
): CheckedManifest | ManifestProblem {
  const declared = mediaTypeOf(contentType);
  if (isSchema1(declared)) return { kind: 'schema1', mediaType: declared };

  const algorithm = headerDigest === undefined ? 'sha256' : headerDigest.slice(0, headerDigest.indexOf(':'));
  const computed = digestOf(bytes, algorithm);
  if (headerDigest !== undefined && headerDigest !== computed) {
    return { kind: 'mismatch', header: headerDigest, computed };
  }

  const parsed = parseJsonBytes(bytes);
  if (parsed === undefined) return { kind: 'malformed', detail: 'the manifest is not JSON' };
  const fields = parsed.value;
  if (!isRecord(fields)) return { kind: 'malformed', detail: 'the manifest is not a JSON object' };
  if (fields['schemaVersion'] === 1) return { kind: 'schema1', mediaType: declared || 'schemaVersion 1' };

  const bodyType = fields['mediaType'];
  if (bodyType !== undefined && typeof bodyType !== 'string') {
    return { kind: 'malformed', detail: 'the manifest mediaType is not a string' };
  }
  if (bodyType !== undefined && declared !== '' && bodyType.toLowerCase() !== declared) {
    return {
      kind: 'malformed',
      detail: `the manifest says mediaType ${bodyType} but Content-Type is ${declared}`,
    };
  }
  const mediaType = declared !== '' ? declared : (bodyType?.toLowerCase() ?? '');
  if (mediaType === '') return { kind: 'malformed', detail: 'the manifest has neither Content-Type nor mediaType' };
  return { digest: computed, mediaType };
}

/** Distinguishes a problem from a checked manifest. */
export function isManifestProblem(value: CheckedManifest | ManifestProblem): value is ManifestProblem {
  return 'kind' in value;
}
