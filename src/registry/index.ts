// OCI distribution client over undici: challenges, tokens, HEAD/GET, digest check, cache, single-flight.
import { RegistryError, RegistryErrorCode } from '../errors/index.ts';
import type { ImageReference } from '../reference/types.ts';
import { RegistryClient } from './client.ts';
import { relabel } from './failure.ts';
import type { LookupOptions, RegistryClientOptions, ResolvedImage, Resolver } from './types.ts';

export type * from './types.ts';
export { DEFAULT_CACHE } from './client.ts';
export { parseChallenges, pickChallenge } from './challenge.ts';
export type { AuthChallenge, Challenge } from './challenge.ts';
export { MANIFEST_ACCEPT, MANIFEST_MEDIA_TYPES } from './manifest.ts';
export { isForbiddenAddress } from './address.ts';
export { openRegistryAccess } from './from-config.ts';
export type { RegistryAccess } from './from-config.ts';

/** A resolver with keep-alive pools per registry, a token cache and a positive-result cache. */
export function createRegistryClient(options: RegistryClientOptions = {}): Resolver {
  return new RegistryClient(options);
}

/**
 * Resolves every distinct reference in `refs` in parallel under one deadline.
 * The map is keyed by `ref.original`; failures are RegistryErrors, never thrown.
 */
export async function resolveAll(
  resolver: Resolver,
  refs: readonly ImageReference[],
  options: LookupOptions,
): Promise<ReadonlyMap<string, ResolvedImage | RegistryError>> {
  // `nginx` and `docker.io/library/nginx:latest` are one lookup.
  const byName = new Map<string, ImageReference>();
  for (const ref of refs) {
    const name = `${ref.registry}/${ref.repository}:${ref.tag ?? 'latest'}`;
    if (!byName.has(name)) byName.set(name, ref);
  }
  const outcomes = new Map<string, ResolvedImage | RegistryError>();
  await Promise.all(
    [...byName].map(async ([name, ref]) => {
      try {
        outcomes.set(name, await resolver.resolve(ref, options));
      } catch (error) {
        outcomes.set(name, asRegistryError(error, ref));
      }
    }),
  );

  const results = new Map<string, ResolvedImage | RegistryError>();
  for (const ref of refs) {
    const outcome = outcomes.get(`${ref.registry}/${ref.repository}:${ref.tag ?? 'latest'}`);
    if (outcome === undefined || results.has(ref.original)) continue;
    results.set(ref.original, outcome instanceof RegistryError ? relabel(outcome, ref.original, ref.registry) : outcome);
  }
  return results;
}

function asRegistryError(error: unknown, ref: ImageReference): RegistryError {
  if (error instanceof RegistryError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new RegistryError(RegistryErrorCode.badResponse, `looking up ${ref.original} failed: ${message}`, {
    image: ref.original,
    registry: ref.registry,
    cause: error,
  });
}
