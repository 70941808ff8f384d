// A short-lived cache of API reads with single-flight loads, where each caller waits no longer than its own deadline.
import { SingleFlight, TtlCache } from '../cache/index.ts';
import { beforeDeadline } from '../deadline/index.ts';

/** How a `read` was served. */
export type CacheVia = 'hit' | 'miss' | 'coalesced';

/** Options of `ReadCache`. */
export interface ReadCacheOptions<V> {
  /** How long a cacheable value is reused. */
  readonly ttlMs: number;
  /** Bound on stored values; the least recently used goes first. */
  readonly maxEntries: number;
  /** Whether a loaded value may be reused by later callers. */
  readonly cacheable: (value: V) => boolean;
}

/** Marks a caller whose deadline passed first. */
const LATE = Symbol('late');

/**
 * Values by key, loaded at most once at a time. A load runs for as long as some caller still
 * waits for it and is aborted when the last of them gives up, so a slow API costs no more than
 * the deadlines allow; a value that arrives in time is kept for `ttlMs`.
 */
export class ReadCache<V> {
  readonly #cacheable: (value: V) => boolean;
  readonly #stored: TtlCache<V>;
  readonly #flights = new SingleFlight<V>();

  constructor(options: ReadCacheOptions<V>) {
    this.#cacheable = options.cacheable;
    this.#stored = new TtlCache(options.ttlMs, options.maxEntries);
  }

  /**
   * The value for `key`: stored, joined from a load in flight, or loaded now with `load`.
   * Resolves `undefined` when `deadline` (epoch ms) passes first. `load` must not reject.
   */
  async read(
    key: string,
    deadline: number,
    load: (signal: AbortSignal) => Promise<V>,
  ): Promise<{ readonly value: V; readonly via: CacheVia } | undefined> {
    const stored = this.#stored.get(key);
    if (stored !== undefined) return { value: stored, via: 'hit' };
    if (!this.#flights.has(key) && deadline <= Date.now()) return undefined;
    const ticket = this.#flights.join(
      key,
      async (budget) => {
        const value = await load(budget.signal);
        if (this.#cacheable(value)) this.#stored.set(key, value);
        return value;
      },
      deadline,
    );
    try {
      const value = await beforeDeadline<V | typeof LATE>(ticket.promise, deadline, () => LATE);
      return value === LATE ? undefined : { value, via: ticket.joined ? 'coalesced' : 'miss' };
    } finally {
      // The last caller to leave aborts the load.
      ticket.leave();
    }
  }
}
