// OCI distribution client over undici, implementing the admission core's Resolver: challenges, tokens, HEAD/GET, digest check, cache.
import { RegistryClient } from './client.ts';
import type { RegistryClientOptions, Resolver } from './types.ts';

export type * from './types.ts';
export { DEFAULT_CACHE } from './client.ts';
export { parseChallenges, pickChallenge } from './challenge.ts';
export type { AuthChallenge, Challenge } from './challenge.ts';
export { MANIFEST_ACCEPT, MANIFEST_MEDIA_TYPES } from './manifest.ts';
export { openRegistryAccess } from './from-config.ts';
export type { RegistryAccess } from './from-config.ts';

/** A resolver with keep-alive pools per registry, a token cache and a positive-result cache. */
export function createRegistryClient(options: RegistryClientOptions = {}): Resolver {
  return new RegistryClient(options);
}
