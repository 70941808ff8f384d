import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SingleFlight, TtlCache } from '../../src/cache/index.ts';
import { getEventListeners } from 'node:events';
import { raceDeadline, raceSignal } from '../../src/deadline/index.ts';
import { createRegistryClient } from '../../src/registry/index.ts';

describe('TtlCache', () => {
  it('forgets entries once their time is up', () => {
    let now = 1000;
    const cache = new TtlCache<string>(500, 10, () => now);
    cache.set('a', 'A');
    now = 1499;
    assert.equal(cache.get('a'), 'A');
    now = 1500;
    assert.equal(cache.get('a'), undefined);
  });

  it('evicts the least recently used entry when full', () => {
    const cache = new TtlCache<string>(60_000, 2);
    cache.set('a', 'A');
    cache.set('b', 'B');
    assert.equal(cache.get('a'), 'A');
    cache.set('c', 'C');
    assert.equal(cache.get('b'), undefined);
    assert.equal(cache.get('a'), 'A');
    assert.equal(cache.get('c'), 'C');
    assert.equal(cache.size, 2);
  });

  it('keeps a hit entry of the recent half where it is, and moves an older one, so eviction stays least recently used within half the bound', () => {
    const cache = new TtlCache<string>(60_000, 4);
    for (const key of ['a', 'b', 'c', 'd']) cache.set(key, key.toUpperCase());
    // a was stored 4 stores ago (outside the recent half): the hit moves it; d was stored last: it stays.
    assert.equal(cache.get('a'), 'A');
    assert.equal(cache.get('d'), 'D');
    cache.set('e', 'E');
    cache.set('f', 'F');
    assert.deepEqual(['a', 'b', 'c', 'd', 'e', 'f'].map((key) => cache.get(key) !== undefined), [true, false, false, true, true, true]);

    // A hit inside the recent half costs no move: c keeps its place before d, so it leaves first.
    const recent = new TtlCache<string>(60_000, 4);
    for (const key of ['a', 'b', 'c', 'd']) recent.set(key, key);
    assert.equal(recent.get('c'), 'c');
    for (const key of ['e', 'f', 'g']) recent.set(key, key);
    assert.deepEqual(['c', 'd', 'e', 'f', 'g'].map((key) => recent.get(key) !== undefined), [false, true, true, true, true]);
  });

  it('stores nothing when the TTL or the bound is zero', () => {
    const noTtl = new TtlCache<string>(0, 10);
    noTtl.set('a', 'A');
    assert.equal(noTtl.get('a'), undefined);
    const noRoom = new TtlCache<string>(1000, 0);
    noRoom.set('a', 'A');
    assert.equal(noRoom.size, 0);
  });
});

describe('SingleFlight', () => {
  it('shares one run among callers that arrive while it is in flight, then starts afresh', async () => {
    const flights = new SingleFlight<number>();
    let runs = 0;
    const work = async (): Promise<number> => {
      runs += 1;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return runs;
    };
    const tickets = Array.from({ length: 5 }, () => flights.join('k', work));
    assert.deepEqual(
      tickets.map((t) => t.joined),
      [false, true, true, true, true],
    );
    assert.deepEqual(await Promise.all(tickets.map((t) => t.promise)), [1, 1, 1, 1, 1]);
    for (const t of tickets) t.leave();
    assert.equal(flights.size, 0);
    assert.equal(await flights.join('k', work).promise, 2);
  });

  it('cancels the work only when the last caller leaves', async () => {
    const flights = new SingleFlight<string>();
    let seen: AbortSignal | undefined;
    const work = ({ signal }: { readonly signal: AbortSignal }): Promise<string> => {
      seen = signal;
      return new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => {
          reject(new Error('cancelled'));
        });
      });
    };
    const first = flights.join('k', work);
    const second = flights.join('k', work);
    await Promise.resolve();
    first.leave();
    assert.equal(seen?.aborted, false);
    second.leave();
    assert.equal(seen?.aborted, true);
    await assert.rejects(first.promise, /cancelled/);
    assert.equal(flights.size, 0);
  });
});

describe('raceSignal', () => {
  it('rejects with the given error when the signal aborts first', async () => {
    const controller = new AbortController();
    const pending = raceSignal(new Promise<never>(() => undefined), controller.signal, () => new Error('too slow'));
    controller.abort();
    await assert.rejects(pending, /too slow/);
  });

  it('settles with the promise when it wins', async () => {
    assert.equal(await raceSignal(Promise.resolve(7), new AbortController().signal, () => new Error('x')), 7);
    await assert.rejects(raceSignal(Promise.reject(new Error('boom')), new AbortController().signal, () => new Error('x')), /boom/);
  });
});

describe('raceDeadline', () => {
  it('rejects with the given error once the deadline passes, and at once for a spent one', async () => {
    await assert.rejects(raceDeadline(new Promise<never>(() => undefined), Date.now() + 20, undefined, () => new Error('deadline')), /deadline/);
    await assert.rejects(raceDeadline(Promise.resolve(1), Date.now() - 1, undefined, () => new Error('spent')), /spent/);
  });

  it('leaves no listener on the signal once it settles, however it ends', async () => {
    const controller = new AbortController();
    assert.equal(await raceDeadline(Promise.resolve(7), Date.now() + 60_000, controller.signal, () => new Error('x')), 7);
    await assert.rejects(raceDeadline(Promise.reject(new Error('boom')), Date.now() + 60_000, controller.signal, () => new Error('x')), /boom/);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    const pending = raceDeadline(new Promise<never>(() => undefined), Number.POSITIVE_INFINITY, controller.signal, () => new Error('cancelled'));
    assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
    controller.abort();
    await assert.rejects(pending, /cancelled/);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });
});

describe('createRegistryClient options', () => {
  it('rejects a negative or non-numeric cache setting up front, naming the key', () => {
    assert.throws(() => createRegistryClient({ cache: { ttlSeconds: -1, maxEntries: 10 } }), {
      code: 'CONFIG_INVALID',
      message: 'cache.ttlSeconds must be a number of 0 or more (got -1)',
    });
    assert.throws(() => createRegistryClient({ cache: { ttlSeconds: 1, maxEntries: Number.NaN } }), /cache\.maxEntries/);
  });
});
