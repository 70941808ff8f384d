// OCI distribution client over undici: challenges, tokens, HEAD/GET, digest check, cache, single-flight.
import type { ImageReference } from '../reference/types.ts';
import type { LookupOptions, RegistryClientOptions, ResolvedImage, Resolver } from './types.ts';
import type { RegistryError } from '../errors/index.ts';

export type * from './types.ts';

/** A resolver with keep-alive pools per registry, a token cache and a positive-result cache. */
export function createRegistryClient(options: RegistryClientOptions = {}): Resolver {
  throw new Error(`not implemented ${Object.keys(options).length}`);
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
  throw new Error(`not implemented ${refs.length} ${typeof resolver} ${options.deadline}`);
}
