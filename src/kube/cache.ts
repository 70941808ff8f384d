// A short-lived cache with single-flight loads, where each caller waits no longer than its own deadline.

/** How a `read` was served. */
export type CacheVia = 'hit' | 'miss' | 'coalesced';

/** Options of `ReadCache`. */
export interface ReadCacheOptions<V> {
  /** How long a cacheable value is reused. */
  readonly ttlMs: number;
  /** Bound on stored values; expired ones are swept first, then the oldest. */
  readonly maxEntries: number;
  /** Whether a loaded value may be reused by later callers. */
  readonly cacheable: (value: V) => boolean;
}

interface InFlight<V> {
  readonly promise: Promise<V>;
  readonly controller: AbortController;
  /** The latest deadline of any caller waiting; the load is aborted once it passes. */
  deadline: number;
  timer: NodeJS.Timeout;
}

/**
 * Values by key, loaded at most once at a time. A load runs for as long as some caller still
 * waits for it and is aborted when the last of them gives up, so a slow API costs no more than
 * the deadlines allow; a value that arrives in time is kept for `ttlMs`.
 */
export class ReadCache<V> {
  readonly #options: ReadCacheOptions<V>;
  readonly #stored = new Map<string, { readonly value: V; readonly expires: number }>();
  readonly #inFlight = new Map<string, InFlight<V>>();

  constructor(options: ReadCacheOptions<V>) {
    this.#options = options;
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
    if (stored !== undefined && stored.expires > Date.now()) return { value: stored.value, via: 'hit' };
    if (stored !== undefined) this.#stored.delete(key);

    let via: CacheVia = 'coalesced';
    let flight = this.#inFlight.get(key);
    if (flight === undefined && deadline <= Date.now()) return undefined;
    if (flight === undefined) {
      via = 'miss';
      flight = this.#start(key, deadline, load);
    } else if (deadline > flight.deadline) {
      flight.deadline = deadline;
      clearTimeout(flight.timer);
      flight.timer = abortAt(flight.controller, deadline);
    }
    const value = await beforeDeadline(flight.promise, deadline);
    return value === undefined ? undefined : { value: value.value, via };
  }

  #start(key: string, deadline: number, load: (signal: AbortSignal) => Promise<V>): InFlight<V> {
    const controller = new AbortController();
    // `finally` runs after this method has returned, by which time `flight` is assigned.
    const promise = load(controller.signal).finally(() => {
      clearTimeout(flight.timer);
      this.#inFlight.delete(key);
    });
    const flight: InFlight<V> = { promise, controller, deadline, timer: abortAt(controller, deadline) };
    this.#inFlight.set(key, flight);
    promise.then(
      (value) => {
        if (this.#options.cacheable(value)) this.#store(key, value);
      },
      () => undefined,
    );
    return flight;
  }

  #store(key: string, value: V): void {
    const now = Date.now();
    if (this.#stored.size >= this.#options.maxEntries) {
      for (const [k, entry] of this.#stored) if (entry.expires <= now) this.#stored.delete(k);
      for (const k of this.#stored.keys()) {
        if (this.#stored.size < this.#options.maxEntries) break;
        this.#stored.delete(k);
      }
    }
    this.#stored.set(key, { value, expires: now + this.#options.ttlMs });
  }
}

function abortAt(controller: AbortController, deadline: number): NodeJS.Timeout {
  return setTimeout(() => { controller.abort(); }, Math.max(0, deadline - Date.now()));
}

/** `promise`'s value wrapped, or `undefined` once `deadline` passes, whichever comes first. */
async function beforeDeadline<V>(promise: Promise<V>, deadline: number): Promise<{ readonly value: V } | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => { resolve(undefined); }, Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([promise.then((value) => ({ value })), late]);
  } finally {
    clearTimeout(timer);
  }
}
