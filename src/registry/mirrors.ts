// Mirrors and pull-through caches: the endpoints a lookup tries before the registry, and falling back past those that do not answer.
import { TtlCache } from '../cache/index.ts';
import { isMirrorUrl, mirroredRegistry, parseMirrorUrl } from '../config/index.ts';
import type { MirrorUrl } from '../config/index.ts';
import { ConfigError, RegistryError, RegistryErrorCode } from '../errors/index.ts';
import { parseReference } from '../reference/index.ts';
import { describeStatus } from './failure.ts';
import type { Budget } from './transport.ts';
import type { MirrorFallbackReason } from './types.ts';

/**
 * How long a mirror that could not be reached or said "not now" (refused, TLS, out of its share of
 * the time, 429, 5xx) is skipped, for every image. Long enough that an outage of the mirror costs a
 * burst of admissions one try every few seconds, not one per image; short enough that its recovery
 * shows soon. Never longer than the digest cache's TTL (0 turns it off, as it turns off every cache).
 */
const MIRROR_DOWN_MS = 10_000;

/** Failures that say the mirror itself is unwell, not that it lacks this one image. */
const DOWN_REASONS: ReadonlySet<MirrorFallbackReason> = new Set(['unreachable', 'unavailable']);

/** The mirrors of each registry and the short memory of those that failed. */
export class Mirrors {
  readonly #byRegistry: ReadonlyMap<string, readonly MirrorUrl[]>;
  readonly #down: TtlCache<true>;

  /**
   * @param mirrors `registries.mirrors`: registry to mirror URLs
   * @throws ConfigError naming `registries.mirrors[KEY][i]` and the rule
   */
  constructor(mirrors: Readonly<Record<string, readonly string[]>>, cache: { readonly ttlSeconds: number; readonly maxEntries: number }) {
    const byRegistry = new Map<string, MirrorUrl[]>();
    for (const [key, urls] of Object.entries(mirrors)) {
      const named = mirroredRegistry(key);
      if ('problem' in named) throw new ConfigError(`registries.mirrors key ${JSON.stringify(key)} ${named.problem}`, { where: `registries.mirrors[${key}]` });
      const list = byRegistry.get(named.registry) ?? [];
      urls.forEach((text, i) => {
        const parsed = parseMirrorUrl(text);
        const where = `registries.mirrors[${key}][${String(i)}]`;
        if (!isMirrorUrl(parsed)) throw new ConfigError(`${where} ${parsed.problem} (got ${JSON.stringify(text)})`, { where });
        if (!list.some((known) => known.url === parsed.url)) list.push(parsed);
      });
      byRegistry.set(named.registry, list);
    }
    this.#byRegistry = byRegistry;
    this.#down = new TtlCache(Math.min(MIRROR_DOWN_MS, cache.ttlSeconds * 1000), cache.maxEntries);
  }

  /** The mirrors of `registry` (a normalized image registry), in the order they are tried. */
  for(registry: string): readonly MirrorUrl[] {
    // Asked for every lookup, cached hits included: nothing to normalize when nothing is mirrored.
    if (this.#byRegistry.size === 0) return [];
    const named = mirroredRegistry(registry);
    return 'problem' in named ? [] : (this.#byRegistry.get(named.registry) ?? []);
  }

  /** Every configured mirror, once each. */
  all(): readonly MirrorUrl[] {
    return [...new Map([...this.#byRegistry.values()].flat().map((m) => [m.url, m])).values()];
  }

  clear(): void {
    this.#down.clear();
  }

  /**
   * Tries `lookup` at each of `mirrors` in order, then `upstream`, and settles with the first answer.
   * A mirror's failure of any kind (unreachable, 404, auth, 5xx, a bad manifest) moves on to the next;
   * one that failed as unreachable or unavailable is skipped for a while. Each mirror gets an equal
   * share of the time left among the endpoints still to try, so a mirror that never answers leaves
   * the registry its share. When everything fails, the registry's own error stands, noting the mirrors.
   */
  async firstAnswer<T>(
    mirrors: readonly MirrorUrl[],
    lookup: (mirror: MirrorUrl, index: number, budget: Budget) => Promise<T>,
    upstream: () => Promise<T>,
    budget: Budget,
    onFallback?: (reason: MirrorFallbackReason) => void,
  ): Promise<T> {
    const notes: string[] = [];
    for (const [index, mirror] of mirrors.entries()) {
      if (this.#down.get(mirror.url) === true) {
        notes.push(`${mirror.url} skipped (it failed moments ago)`);
        onFallback?.('skipped');
        continue;
      }
      const share = shareOf(budget, mirrors.length - index + 1);
      try {
        return await lookup(mirror, index, share.budget);
      } catch (error) {
        // Every caller gone, or not a lookup failure at all (a bug): nothing to fall back for.
        if (budget.signal.aborted || !(error instanceof RegistryError)) throw error;
        const outOfTime = share.budget.signal.aborted;
        const reason = outOfTime ? 'unreachable' : fallbackReason(error);
        if (DOWN_REASONS.has(reason)) this.#down.set(mirror.url, true);
        notes.push(`${mirror.url} ${outOfTime ? `gave no answer within its share of the time (${String(share.ms)} ms)` : describeFailure(error)}`);
        onFallback?.(reason);
      } finally {
        share.release();
      }
    }
    try {
      return await upstream();
    } catch (error) {
      throw notes.length === 0 || !(error instanceof RegistryError) ? error : withNote(error, `mirrors tried first: ${notes.join('; ')}`);
    }
  }
}

/**
 * The image name whose credentials a mirror gets (kubelet's rules, as for `MIRRORHOST/repository`);
 * never the registry it mirrors. A single-label host other than `localhost` (`http://mirror`) gets
 * none (undefined): `mirror/app` reads as a Docker Hub repository and would match Docker Hub's credentials.
 */
export function mirrorImage(mirror: MirrorUrl, repository: string): string | undefined {
  const image = `${mirror.host}/${repository}`;
  try {
    return parseReference(image).registry === mirror.host ? image : undefined;
  } catch {
    return undefined;
  }
}

/** What kind of failure made a lookup move past a mirror, for the metric. */
function fallbackReason(error: RegistryError): MirrorFallbackReason {
  switch (error.code) {
    case RegistryErrorCode.network:
    case RegistryErrorCode.tls:
    case RegistryErrorCode.timeout:
    case RegistryErrorCode.forbiddenAddress:
      return 'unreachable';
    case RegistryErrorCode.rateLimited:
    case RegistryErrorCode.unavailable:
    case RegistryErrorCode.token:
      return 'unavailable';
    case RegistryErrorCode.notFound:
      return 'not-found';
    case RegistryErrorCode.unauthorized:
    case RegistryErrorCode.denied:
      return 'unauthorized';
    default:
      return 'bad-response';
  }
}

/** `answered 404 Not Found` for an answer that was a refusal, else the error's own words (which name the host). */
function describeFailure(error: RegistryError): string {
  const refusal = error.code === RegistryErrorCode.notFound || fallbackReason(error) === 'unauthorized' || fallbackReason(error) === 'unavailable';
  return refusal && error.status !== undefined ? `answered ${describeStatus(error.status)}` : `failed: ${error.message}`;
}

/** `error` with `note` after its message; the cause stays the original's, so its kind (transient or not) is unchanged. */
function withNote(error: RegistryError, note: string): RegistryError {
  return new RegistryError(error.code, `${error.message} (${note})`, {
    ...(error.image === undefined ? {} : { image: error.image }),
    ...(error.registry === undefined ? {} : { registry: error.registry }),
    ...(error.status === undefined ? {} : { status: error.status }),
    ...(error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds }),
    ...(error.cause === undefined ? {} : { cause: error.cause }),
  });
}

/** A budget ending after `1/parts` of the time `budget` has left (or with it, if that comes first). */
function shareOf(budget: Budget, parts: number): { readonly budget: Budget; readonly ms: number; release(): void } {
  const left = budget.deadline() - Date.now();
  if (!Number.isFinite(left)) return { budget, ms: left, release: () => undefined };
  const ms = Math.floor(Math.max(0, left) / parts);
  const end = Date.now() + ms;
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort();
  }, ms);
  return {
    ms,
    budget: { signal: AbortSignal.any([budget.signal, controller.signal]), deadline: () => Math.min(end, budget.deadline()) },
    release: () => {
      clearTimeout(timer);
    },
  };
}
