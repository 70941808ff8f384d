// Looks up distinct references in parallel, each under its own resolve.timeoutMs budget.
import { resolveAll } from '../admission/index.ts';
import type { Keyring, ResolvedImage, Resolver } from '../admission/index.ts';
import type { ImageReference, Platform } from '../reference/index.ts';
import type { RegistryError } from '../errors/index.ts';

/** What a CLI lookup needs: the client, the credentials and the per-image budget. */
export interface LookupContext {
  readonly resolver: Resolver;
  readonly keyring: Keyring;
  /** `resolve.timeoutMs`: each image's budget starts when its own lookup starts. */
  readonly timeoutMs: number;
  /** `--platform`: each index is pinned to this platform's manifest. @default undefined (the index) */
  readonly platform?: Platform | undefined;
}

/**
 * Lookups in flight at once; the client's connection pools queue requests anyway, and a budget
 * that starts only when a lookup starts would otherwise be spent waiting in that queue.
 */
const CONCURRENCY = 16;

/** Resolves each distinct `ref.original` once, through the same batch call as admission; the map holds a digest or the RegistryError for each. */
export function lookupAll(
  context: LookupContext,
  refs: readonly ImageReference[],
): Promise<ReadonlyMap<string, ResolvedImage | RegistryError>> {
  return resolveAll(context.resolver, refs, {
    deadline: Number.POSITIVE_INFINITY,
    perLookupMs: context.timeoutMs,
    concurrency: CONCURRENCY,
    keyring: context.keyring,
    ...(context.platform === undefined ? {} : { platform: context.platform }),
  });
}
