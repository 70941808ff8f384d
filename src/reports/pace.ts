// A resolver that starts at most N lookups per second: the bound on what one background scan asks of registries.
import type { ImageReference } from '../reference/index.ts';
import type { LookupOptions, ResolvedImage, Resolver } from '../admission/index.ts';
import { setTimeout as sleep } from 'node:timers/promises';

/** `resolver` with each lookup started no sooner than 1/`perSecond` s after the one before it. */
export function pacedResolver(resolver: Resolver, perSecond: number, signal?: AbortSignal): Resolver & { readonly started: () => number } {
  const gapMs = 1000 / perSecond;
  let next = 0;
  let started = 0;
  return {
    async resolve(ref: ImageReference, options: LookupOptions): Promise<ResolvedImage> {
      const now = Date.now();
      const at = Math.max(now, next);
      next = at + gapMs;
      if (at > now) await sleep(at - now, undefined, signal === undefined ? {} : { signal });
      started++;
      return resolver.resolve(ref, options);
    },
    close: () => Promise.resolve(),
    started: () => started,
  };
}
