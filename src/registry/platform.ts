// Pinning one platform: reading an image index and choosing the manifest its entries name for that platform.
import { RegistryError, RegistryErrorCode } from '../errors/index.ts';
import { formatPlatform, normalizePlatform } from '../reference/index.ts';
import type { Platform } from '../reference/index.ts';
import type { Target } from './auth.ts';
import { manifestUrl } from './auth.ts';
import { learnFromBody } from './fetch.ts';
import type { Learned } from './fetch.ts';
import { MANIFEST_ACCEPT, MANIFEST_MEDIA_TYPES } from './manifest.ts';
import { errorCause, withRetries } from './retry.ts';
import type { RetryPolicy } from './retry.ts';
import type { RegistryObserver } from './types.ts';
import type { Budget, Send } from './transport.ts';
import { parseJsonBytes } from '../json/index.ts';

/** How many platforms the "no manifest for" message lists before it says how many more there are. */
const LISTED_PLATFORMS = 8;

/** The media types whose manifests list other manifests by platform. */
const INDEX_MEDIA_TYPES: ReadonlySet<string> = new Set(MANIFEST_MEDIA_TYPES.slice(0, 2));

/** True for an OCI image index or a Docker manifest list. */
export function isIndex(mediaType: string): boolean {
  return INDEX_MEDIA_TYPES.has(mediaType);
}

/** The part of a cache or flight key that tells platform lookups apart: '' for the index itself. */
export function platformKey(platform: Platform | undefined): string {
  return platform === undefined ? '' : `@${formatPlatform(platform)}`;
}

/** One entry of an index: the manifest it names and the platform it declares (normalized). */
export interface IndexEntry {
  readonly digest: string;
  readonly mediaType: string;
  readonly platform: Platform | undefined;
}

/** The entries of an index body, or why it has none that can be read. */
export function indexEntries(bytes: Uint8Array): readonly IndexEntry[] | string {
  const parsed = parseJsonBytes(bytes);
  if (parsed === undefined) return 'the index is not JSON';
  const manifests = (parsed.value as { manifests?: unknown } | null)?.manifests;
  if (!Array.isArray(manifests)) return 'the index has no manifests list';
  const entries: IndexEntry[] = [];
  for (const item of manifests as unknown[]) {
    const fields = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    const { digest, mediaType, platform } = fields;
    if (typeof digest !== 'string' || typeof mediaType !== 'string') return 'an index entry has no digest or mediaType';
    entries.push({ digest, mediaType: mediaType.toLowerCase(), platform: declaredPlatform(platform) });
  }
  return entries;
}

function declaredPlatform(value: unknown): Platform | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { os, architecture, variant } = value as Record<string, unknown>;
  if (typeof os !== 'string' || typeof architecture !== 'string') return undefined;
  return normalizePlatform(os, architecture, typeof variant === 'string' ? variant : '');
}

/**
 * The entry for `wanted`, compared after normalization: os and architecture must be equal; a wanted
 * variant (given, or the `arm`/`arm64` default) must be equal too. For architectures without a default
 * variant, `wanted` without one takes an entry without a variant first, else the first entry of that
 * os and architecture. Among equal entries, the first in the index wins.
 */
export function choosePlatform(entries: readonly IndexEntry[], wanted: Platform): IndexEntry | undefined {
  const same = entries.filter((e) => e.platform?.os === wanted.os && e.platform.architecture === wanted.architecture);
  if (wanted.variant !== '') return same.find((e) => e.platform?.variant === wanted.variant);
  return same.find((e) => e.platform?.variant === '') ?? same[0];
}

/** What `platformManifest` needs from the client: how it sends, with what Authorization and retries. */
export interface PlatformFetch {
  readonly send: Send;
  readonly authorization: string | undefined;
  readonly budget: Budget;
  readonly retry: RetryPolicy;
  readonly observer: RegistryObserver | undefined;
}

/**
 * The manifest `index` lists for `wanted`: GETs the index by its digest (so the bytes are checked
 * against the digest asked for), reads its entries and picks one. A digest that is not an index is
 * returned as it is: a single-platform image has only one manifest to pin.
 * @throws RegistryError `REGISTRY_NO_PLATFORM` listing the platforms the index has
 */
export async function platformManifest(target: Target, index: Learned, wanted: Platform, fetch: PlatformFetch): Promise<Learned> {
  if (!isIndex(index.mediaType)) return index;
  const url = manifestUrl(target, index.digest);
  const headers: Record<string, string> = { accept: MANIFEST_ACCEPT };
  if (fetch.authorization !== undefined) headers['authorization'] = fetch.authorization;
  const { learned, bytes } = await withRetries(
    async () => learnFromBody(await fetch.send({ method: 'GET', url, headers, context: target }, fetch.budget), target, index.fingerprint),
    (outcome) => (outcome.ok ? undefined : errorCause(outcome.error)),
    { registry: target.registry, method: 'GET', budget: fetch.budget, policy: fetch.retry, observer: fetch.observer },
  );
  const where = `${target.registry}/${target.repository}:${target.tag}`;
  const fields = { image: target.image, registry: target.registry };
  if (learned.digest !== index.digest) {
    throw new RegistryError(
      RegistryErrorCode.digestMismatch,
      `index ${index.digest} of ${where} from ${url.host} hashes to ${learned.digest} (body altered in transit?)`,
      fields,
    );
  }
  const entries = indexEntries(bytes);
  if (typeof entries === 'string') {
    throw new RegistryError(RegistryErrorCode.badResponse, `registry ${url.host} sent a bad index for ${where}: ${entries}`, fields);
  }
  const chosen = choosePlatform(entries, wanted);
  if (chosen === undefined) {
    throw new RegistryError(
      RegistryErrorCode.noPlatform,
      `${where} has no manifest for ${formatPlatform(wanted)} (${availablePlatforms(entries)}); pick one of those with --platform, or leave --platform out to pin the index`,
      fields,
    );
  }
  return { digest: chosen.digest, mediaType: chosen.mediaType, fingerprint: index.fingerprint };
}

/** "the index lists linux/amd64, linux/arm64/v8", at most LISTED_PLATFORMS of them. */
function availablePlatforms(entries: readonly IndexEntry[]): string {
  // Attestation manifests declare unknown/unknown: not a platform anyone asks for.
  const named = entries.flatMap((e) => (e.platform === undefined || e.platform.os === 'unknown' ? [] : [formatPlatform(e.platform)]));
  const names = [...new Set(named)];
  if (names.length === 0) return 'the index names no platforms';
  const listed = names.slice(0, LISTED_PLATFORMS).join(', ');
  const more = names.length - LISTED_PLATFORMS;
  return `the index lists ${listed}${more > 0 ? ` and ${String(more)} more` : ''}`;
}
