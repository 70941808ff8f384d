// Resolving a batch of references through the Resolver port: one lookup per distinct name, in parallel, failures as values.
import { RegistryError, RegistryErrorCode } from '../errors/index.ts';
import { forEachBounded } from '../pool/index.ts';
import type { ImageReference } from '../reference/index.ts';
import type { LookupOptions, ResolvedImage, Resolver } from './ports.ts';

/** How a batch is paced. */
export interface BatchOptions extends LookupOptions {
  /** Lookups in flight at once. @default all of them */
  readonly concurrency?: number;
  /**
   * Each lookup's own budget, counted from when it starts (the CLI's `resolve.timeoutMs`): a budget
   * that started with the batch would be spent waiting behind the concurrency limit. Capped by `deadline`.
   */
  readonly perLookupMs?: number;
}

/**
 * Resolves every distinct reference in `refs` (`nginx` and `docker.io/library/nginx:latest` are one
 * lookup). The map is keyed by `ref.original`; failures are RegistryErrors naming that spelling, never thrown.
 */
export async function resolveAll(
  resolver: Resolver,
  refs: readonly ImageReference[],
  options: BatchOptions,
): Promise<ReadonlyMap<string, ResolvedImage | RegistryError>> {
  const byName = new Map<string, ImageReference>();
  for (const ref of refs) {
    const name = nameOf(ref);
    if (!byName.has(name)) byName.set(name, ref);
  }
  const outcomes = new Map<string, ResolvedImage | RegistryError>();
  const { concurrency, perLookupMs, ...lookup } = options;
  await forEachBounded([...byName], concurrency ?? byName.size, async ([name, ref]) => {
    const deadline = perLookupMs === undefined ? lookup.deadline : Math.min(lookup.deadline, Date.now() + perLookupMs);
    try {
      outcomes.set(name, await resolver.resolve(ref, { ...lookup, deadline }));
    } catch (error) {
      outcomes.set(name, asRegistryError(error, ref));
    }
  });

  const results = new Map<string, ResolvedImage | RegistryError>();
  for (const ref of refs) {
    const outcome = outcomes.get(nameOf(ref));
    if (outcome === undefined || results.has(ref.original)) continue;
    results.set(ref.original, outcome instanceof RegistryError ? outcome.forImage(ref.original, ref.registry) : outcome);
  }
  return results;
}

/**
 * Every reference of `refs` answered from what `resolver` already knows to serve anyone, keyed by
 * `ref.original` as `resolveAll` keys them; undefined as soon as one is not (then resolve them all).
 */
export function knownToAll(resolver: Resolver, refs: readonly ImageReference[]): ReadonlyMap<string, ResolvedImage> | undefined {
  if (resolver.peek === undefined) return undefined;
  const results = new Map<string, ResolvedImage>();
  for (const ref of refs) {
    const known = resolver.peek(ref);
    if (known === undefined) return undefined;
    results.set(ref.original, known);
  }
  return results;
}

/** One lookup per name: by tag (`latest` when none), or by digest for a reference without a tag (`Resolver.resolve`). */
function nameOf(ref: ImageReference): string {
  if (ref.tag === undefined && ref.digest !== undefined) return `${ref.registry}/${ref.repository}@${ref.digest}`;
  return `${ref.registry}/${ref.repository}:${ref.tag ?? 'latest'}`;
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
