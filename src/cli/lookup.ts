// Looks up distinct references in parallel, each under its own resolve.timeoutMs budget.
import { resolveAll } from '../registry/index.ts';
import type { ResolvedImage, Resolver } from '../registry/index.ts';
import type { Keyring } from '../credentials/index.ts';
import type { ImageReference } from '../reference/index.ts';
import type { RegistryError } from '../errors/index.ts';

/** What a CLI lookup needs: the client, the credentials and the per-image budget. */
export interface LookupContext {
  readonly resolver: Resolver;
  readonly keyring: Keyring;
  /** `resolve.timeoutMs`: each image's budget starts when its own lookup starts. */
  readonly timeoutMs: number;
}

/**
 * Lookups in flight at once; the client's connection pools queue requests anyway, and a budget
 * that starts only when a lookup starts would otherwise be spent waiting in that queue.
 */
const CONCURRENCY = 16;

/** Resolves each distinct `ref.original` once; the map holds a digest or the RegistryError for each. */
export async function lookupAll(
  context: LookupContext,
  refs: readonly ImageReference[],
): Promise<ReadonlyMap<string, ResolvedImage | RegistryError>> {
  const distinct = [...new Map(refs.map((ref) => [ref.original, ref])).values()];
  const results = new Map<string, ResolvedImage | RegistryError>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < distinct.length) {
      const ref = distinct[next++];
      if (ref === undefined) break;
      const answer = await resolveAll(context.resolver, [ref], {
        deadline: Date.now() + context.timeoutMs,
        keyring: context.keyring,
      });
      const result = answer.get(ref.original);
      if (result === undefined) throw new Error(`resolveAll gave no answer for ${ref.original}`);
      results.set(ref.original, result);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, distinct.length) }, worker));
  return results;
}
