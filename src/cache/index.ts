// The one bounded TTL cache (least-recently-used eviction) and single-flight sharing of work in progress.

/**
 * Entries live `ttlMs` and at most `maxEntries` are kept; the least recently used goes first, give or
 * take half the bound: a hit moves its entry to the young end only when the entry is not among the
 * last `maxEntries / 2` stored or moved, so the hot entries of a warm cache are read without a write.
 */
export class TtlCache<V> {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  // A Map iterates in insertion order: the entry stamped longest ago comes first.
  readonly #entries = new Map<string, { readonly value: V; readonly expiresAt: number; stamp: number }>();
  /** Counts every store and move; an entry's stamp says when it last went to the young end. */
  #clock = 0;

  constructor(ttlMs: number, maxEntries: number, now: () => number = Date.now) {
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
    this.#now = now;
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    if (this.#clock - entry.stamp >= this.#maxEntries / 2) {
      this.#entries.delete(key);
      entry.stamp = ++this.#clock;
      this.#entries.set(key, entry);
    }
    return entry.value;
  }

  /** Stores `value` for the cache's TTL, or for `ttlMs` when given (an answer that says how long it holds). */
  set(key: string, value: V, ttlMs: number = this.#ttlMs): void {
    if (ttlMs <= 0 || this.#maxEntries <= 0) return;
    this.#entries.delete(key);
    while (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, expiresAt: this.#now() + ttlMs, stamp: ++this.#clock });
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }
}

/** A caller's share of a flight: its promise, whether it joined one already running, and a way out. */
export interface Ticket<V> {
  readonly promise: Promise<V>;
  readonly joined: boolean;
  /** Call once the caller no longer waits (settled, timed out or cancelled). */
  leave(): void;
}

/** What the work of a flight is given: cancelled when every caller has left; the latest deadline among those still waiting. */
export interface FlightBudget {
  readonly signal: AbortSignal;
  readonly deadline: () => number;
}

interface Flight<V> {
  readonly promise: Promise<V>;
  readonly controller: AbortController;
  /** Deadlines of the callers still waiting, one entry per caller. */
  readonly deadlines: number[];
  /** The latest deadline seen, which still holds once every caller has left. */
  readonly latest: { value: number };
  settled: boolean;
}

/**
 * Runs at most one `work` per key at a time; callers arriving meanwhile share its result.
 * The work is cancelled only when every caller has left, so one impatient caller cannot fail the others,
 * and it may plan (retries) up to the latest deadline of the callers still waiting.
 */
export class SingleFlight<V> {
  readonly #flights = new Map<string, Flight<V>>();

  join(key: string, work: (budget: FlightBudget) => Promise<V>, deadline = Number.POSITIVE_INFINITY): Ticket<V> {
    const running = this.#flights.get(key);
    const flight = running ?? this.#start(key, work);
    flight.deadlines.push(deadline);
    flight.latest.value = Math.max(flight.latest.value, deadline);
    let left = false;
    return {
      promise: flight.promise,
      joined: running !== undefined,
      leave: () => {
        if (left) return;
        left = true;
        flight.deadlines.splice(flight.deadlines.indexOf(deadline), 1);
        if (flight.deadlines.length === 0 && !flight.settled) {
          flight.controller.abort();
          if (this.#flights.get(key) === flight) this.#flights.delete(key);
        }
      },
    };
  }

  /** Number of flights in progress. */
  get size(): number {
    return this.#flights.size;
  }

  /** Whether a flight for `key` is in progress. */
  has(key: string): boolean {
    return this.#flights.has(key);
  }

  #start(key: string, work: (budget: FlightBudget) => Promise<V>): Flight<V> {
    const controller = new AbortController();
    const deadlines: number[] = [];
    const latest = { value: Number.NEGATIVE_INFINITY };
    const budget: FlightBudget = {
      signal: controller.signal,
      deadline: () => (deadlines.length === 0 ? latest.value : Math.max(...deadlines)),
    };
    const promise = Promise.resolve().then(() => work(budget));
    const flight: Flight<V> = { promise, controller, deadlines, latest, settled: false };
    const land = (): void => {
      flight.settled = true;
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
    };
    promise.then(land, land);
    this.#flights.set(key, flight);
    return flight;
  }
}
