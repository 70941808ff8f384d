// Retries, Retry-After and the short memory of outages: the policy alone, then against the real registry behind a failing proxy.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryError } from '../../src/errors/index.ts';
import { parseReference } from '../../src/reference/index.ts';
import { createRegistryClient } from '../../src/registry/index.ts';
import type { RegistryClientOptions, RegistryObserver, Resolver } from '../../src/registry/index.ts';
import { SingleFlight } from '../../src/cache/index.ts';
import { DEFAULT_RETRY, MIN_TRY_MS, backoff, retryPolicy, withRetries } from '../../src/registry/retry.ts';
import type { RetryCause } from '../../src/registry/retry.ts';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { keyringFor, proxyTo, startServer } from './servers.ts';
import type { LocalServer } from './servers.ts';

async function rejection(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RegistryError, `expected a RegistryError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the lookup to fail');
}

describe('the retry policy', () => {
  const budget = (ms: number): { signal: AbortSignal; deadline: () => number } => {
    const deadline = Date.now() + ms;
    return { signal: new AbortController().signal, deadline: () => deadline };
  };
  const transient: RetryCause = { status: 503, retryAfterMs: undefined };

  it('tries at most 1 + retries times and reports each retry', async () => {
    let tries = 0;
    const retries: unknown[] = [];
    const outcome = withRetries(
      () => {
        tries += 1;
        return Promise.reject(new Error(`try ${String(tries)}`));
      },
      () => transient,
      { registry: 'registry.test', method: 'HEAD', budget: budget(5000), policy: { retries: 2, baseDelayMs: 10, maxDelayMs: 100 }, observer: { onRetry: (e) => retries.push(e) }, random: () => 0.5 },
    );
    await assert.rejects(outcome, /try 3/);
    assert.equal(tries, 3);
    assert.deepEqual(retries, [
      { registry: 'registry.test', method: 'HEAD', status: 503, delayMs: 5 },
      { registry: 'registry.test', method: 'HEAD', status: 503, delayMs: 10 },
    ]);
  });

  it('stops at the first outcome the judge calls final', async () => {
    let tries = 0;
    const value = await withRetries(
      () => Promise.resolve((tries += 1)),
      (outcome) => (outcome.ok && outcome.value < 2 ? transient : undefined),
      { registry: 'registry.test', method: 'GET', budget: budget(5000), policy: { retries: 5, baseDelayMs: 1, maxDelayMs: 1 }, observer: undefined },
    );
    assert.equal(value, 2);
  });

  it('never starts a retry whose backoff would end past the deadline', async () => {
    let tries = 0;
    const outcome = withRetries(
      () => Promise.reject(new Error(`try ${String((tries += 1))}`)),
      () => transient,
      // random 0.99 of a 10 s ceiling: a 9.9 s wait against a 1 s budget.
      { registry: 'registry.test', method: 'HEAD', budget: budget(1000), policy: { retries: 2, baseDelayMs: 10_000, maxDelayMs: 10_000 }, observer: undefined, random: () => 0.99 },
    );
    await assert.rejects(outcome, /try 1/);
    assert.equal(tries, 1);

    // A wait that would leave less than MIN_TRY_MS for the retry itself is not started either.
    tries = 0;
    const cramped = withRetries(
      () => Promise.reject(new Error(`try ${String((tries += 1))}`)),
      () => ({ ...transient, retryAfterMs: 1000 - MIN_TRY_MS / 2 }),
      { registry: 'registry.test', method: 'HEAD', budget: budget(1000), policy: DEFAULT_RETRY, observer: undefined },
    );
    await assert.rejects(cramped, /try 1/);
    assert.equal(tries, 1);
  });

  it('waits what Retry-After asks when it fits, and fails fast with the last answer when it does not', async () => {
    const delays: number[] = [];
    let tries = 0;
    const fits = await withRetries(
      () => Promise.resolve((tries += 1)),
      (outcome) => (outcome.ok && outcome.value === 1 ? { ...transient, status: 429, retryAfterMs: 20 } : undefined),
      { registry: 'registry.test', method: 'HEAD', budget: budget(5000), policy: DEFAULT_RETRY, observer: { onRetry: (e) => delays.push(e.delayMs) } },
    );
    assert.equal(fits, 2);
    assert.deepEqual(delays, [20]);

    tries = 0;
    const tooLong = await withRetries(
      () => Promise.resolve((tries += 1)),
      () => ({ ...transient, status: 429, retryAfterMs: 30_000 }),
      { registry: 'registry.test', method: 'HEAD', budget: budget(5000), policy: DEFAULT_RETRY, observer: undefined },
    );
    assert.equal(tooLong, 1);
  });

  it('gives up waiting as soon as every caller has left', async () => {
    const controller = new AbortController();
    const pending = withRetries(
      () => Promise.reject(new Error('down')),
      () => ({ ...transient, retryAfterMs: 60_000 }),
      { registry: 'registry.test', method: 'HEAD', budget: { signal: controller.signal, deadline: () => Date.now() + 120_000 }, policy: DEFAULT_RETRY, observer: undefined },
    );
    setTimeout(() => {
      controller.abort();
    }, 10);
    await assert.rejects(pending, /cancelled while waiting to retry/);
  });

  it('draws full-jitter backoff under a ceiling that doubles up to the maximum', () => {
    const policy = { retries: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    assert.deepEqual([0, 1, 2, 3, 4].map((retry) => backoff(retry, policy, () => 0.999_999)), [99, 199, 399, 799, 999]);
    assert.deepEqual([0, 1, 2].map((retry) => backoff(retry, policy, () => 0)), [0, 0, 0]);
  });

  it('checks retry options up front, naming the key', () => {
    assert.deepEqual(retryPolicy(undefined), DEFAULT_RETRY);
    assert.deepEqual(retryPolicy({ retries: 0 }), { ...DEFAULT_RETRY, retries: 0 });
    assert.throws(() => retryPolicy({ retries: -1 }), { code: 'CONFIG_INVALID', message: 'retry.retries must be a whole number of 0 or more (got -1)' });
    assert.throws(() => retryPolicy({ baseDelayMs: 0.5 }), /retry\.baseDelayMs/);
    assert.throws(() => retryPolicy({ retries: 6 }), /retry\.retries must be at most 5/);
    assert.throws(() => createRegistryClient({ retry: { maxDelayMs: Number.NaN } }), /retry\.maxDelayMs/);
  });
});

describe('single-flight deadlines', () => {
  it('lets the shared work plan up to the latest deadline among the callers still waiting', async () => {
    const flights = new SingleFlight<number>();
    let seen: (() => number) | undefined;
    let finish: (value: number) => void = () => undefined;
    const work = ({ deadline }: { readonly deadline: () => number }): Promise<number> => {
      seen = deadline;
      return new Promise((resolve) => {
        finish = resolve;
      });
    };
    const early = flights.join('k', work, 1000);
    const late = flights.join('k', work, 5000);
    await Promise.resolve();
    assert.equal(seen?.(), 5000);
    late.leave();
    assert.equal(seen?.(), 1000);
    finish(1);
    assert.equal(await early.promise, 1);
    early.leave();
  });
});

describe('retries against the real registry', () => {
  let registry: TestRegistry;
  let digest: string;
  const closers: Array<() => Promise<void>> = [];

  before(async () => {
    registry = await startRegistry('http');
    digest = await registry.push('demo/app', 'v1', 'oci-index');
  });
  after(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await registry.stop();
  });

  /** A client for loopback test servers that records what it observes. */
  function client(options: RegistryClientOptions = {}): { resolver: Resolver; events: { retries: Parameters<NonNullable<RegistryObserver['onRetry']>>[0][]; cache: string[] } } {
    const events = { retries: [] as Parameters<NonNullable<RegistryObserver['onRetry']>>[0][], cache: [] as string[] };
    const resolver = createRegistryClient({
      allow: ['127.0.0.1'],
      insecure: ['127.0.0.1'],
      observer: { onRetry: (event) => events.retries.push(event), onCache: (result) => events.cache.push(result) },
      ...options,
    });
    closers.push(() => resolver.close());
    return { resolver, events };
  }

  /** A proxy to the registry whose first `failures` manifest requests get `fail` instead. */
  async function failingProxy(failures: number, fail: (req: IncomingMessage, res: ServerResponse) => void): Promise<LocalServer> {
    const forward = proxyTo(registry.baseUrl, (answer) => answer);
    let failed = 0;
    const proxy = await startServer(async (req, res) => {
      if (req.url?.includes('/manifests/') === true && failed < failures) {
        failed += 1;
        fail(req, res);
        return;
      }
      await forward(req, res);
    });
    closers.push(() => proxy.close());
    return proxy;
  }

  const answer = (status: number, headers: Record<string, string> = {}) => (_req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(status, headers).end();
  };
  const soon = (ms = 8000): number => Date.now() + ms;

  for (const status of [500, 502, 503, 504]) {
    it(`tries a HEAD again after ${String(status)} and resolves when the registry recovers`, async () => {
      const proxy = await failingProxy(2, answer(status));
      const { resolver, events } = client();
      const resolved = await resolver.resolve(parseReference(`${proxy.host}/demo/app:v1`), { deadline: soon() });
      assert.equal(resolved.digest, digest);
      assert.deepEqual(proxy.seen.map((r) => r.method), ['HEAD', 'HEAD', 'HEAD']);
      assert.deepEqual(events.retries.map((e) => [e.registry, e.method, e.status]), [
        [proxy.host, 'HEAD', status],
        [proxy.host, 'HEAD', status],
      ]);
    });
  }

  it('tries again after the connection is reset before an answer', async () => {
    const proxy = await failingProxy(1, (req) => {
      req.socket.destroy();
    });
    const { resolver, events } = client();
    const resolved = await resolver.resolve(parseReference(`${proxy.host}/demo/app:v1`), { deadline: soon() });
    assert.equal(resolved.digest, digest);
    assert.deepEqual(events.retries.map((e) => e.status), [0]);
  });

  it('tries a manifest GET again when its body is cut off halfway', async () => {
    const forward = proxyTo(registry.baseUrl, (upstream) => {
      const headers = { ...upstream.headers };
      delete headers['docker-content-digest'];
      return { ...upstream, headers };
    });
    let cut = 0;
    const proxy = await startServer(async (req, res) => {
      if (req.method === 'GET' && cut === 0) {
        cut += 1;
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', 'content-length': '400' });
        res.write('{"schemaVersion":2,');
        setTimeout(() => req.socket.destroy(), 20);
        return;
      }
      await forward(req, res);
    });
    closers.push(() => proxy.close());
    const { resolver, events } = client();
    const resolved = await resolver.resolve(parseReference(`${proxy.host}/demo/app:v1`), { deadline: soon() });
    assert.equal(resolved.digest, digest);
    // Then one HEAD by digest: no Docker-Content-Digest vouched for the body.
    assert.deepEqual(proxy.seen.map((r) => r.method), ['HEAD', 'GET', 'GET', 'HEAD']);
    assert.equal(proxy.seen[3]?.path, `/v2/demo/app/manifests/${digest}`);
    assert.deepEqual(events.retries.map((e) => [e.method, e.status]), [['GET', 0]]);
  });

  it('gives up after two retries and names the status the registry kept answering', async () => {
    const proxy = await failingProxy(10, answer(503));
    const { resolver } = client();
    const error = await rejection(resolver.resolve(parseReference(`${proxy.host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_UNAVAILABLE');
    assert.equal(error.message, `registry ${proxy.host} answered 503 Service Unavailable`);
    assert.equal(proxy.seen.length, 3);
  });

  it('waits the Retry-After of a 429 when it fits the deadline', async () => {
    const proxy = await failingProxy(1, answer(429, { 'retry-after': '1' }));
    const { resolver, events } = client();
    const resolved = await resolver.resolve(parseReference(`${proxy.host}/demo/app:v1`), { deadline: soon() });
    assert.equal(resolved.digest, digest);
    assert.deepEqual(events.retries.map((e) => [e.status, e.delayMs]), [[429, 1000]]);
  });

  it('fails fast with "rate limited" when Retry-After, in seconds or as a date, does not fit the deadline', async () => {
    const later = new Date(Date.now() + 60_000).toUTCString();
    for (const retryAfter of ['30', later]) {
      const proxy = await failingProxy(10, answer(429, { 'retry-after': retryAfter }));
      const { resolver, events } = client();
      const error = await rejection(resolver.resolve(parseReference(`${proxy.host}/demo/app:v1`), { deadline: soon(5000) }));
      assert.equal(error.code, 'REGISTRY_RATE_LIMITED');
      assert.match(error.message, new RegExp(`^rate limited by ${proxy.host}, retry after (30|59|60) s$`));
      assert.equal(proxy.seen.length, 1);
      assert.deepEqual(events.retries, []);
    }
  });

  for (const [what, status] of [['a missing tag (404)', 404], ['a refusal (403)', 403], ['a bad request (400)', 400]] as const) {
    it(`does not try again after ${what}`, async () => {
      const proxy = await failingProxy(10, answer(status));
      const { resolver, events } = client();
      await rejection(resolver.resolve(parseReference(`${proxy.host}/demo/app:v1`), { deadline: soon() }));
      assert.equal(proxy.seen.length, 1);
      assert.deepEqual(events.retries, []);
    });
  }

  /** A registry (the real one behind a proxy) that wants `Bearer granted` from the token realm at `realm`. */
  async function bearerProxy(realm: LocalServer): Promise<LocalServer> {
    const forward = proxyTo(registry.baseUrl, (upstream) => upstream);
    const guarded = await startServer(async (req, res) => {
      if (req.headers.authorization !== 'Bearer granted') {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${realm.host}/token",service="test"` }).end();
        return;
      }
      await forward(req, res);
    });
    closers.push(() => guarded.close());
    return guarded;
  }

  it('tries a token GET again after a 502', async () => {
    let gets = 0;
    const realm = await startServer((_req, res) => {
      gets += 1;
      if (gets === 1) res.writeHead(502).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"granted"}');
    });
    closers.push(() => realm.close());
    const guarded = await bearerProxy(realm);
    const { resolver, events } = client();
    const resolved = await resolver.resolve(parseReference(`${guarded.host}/demo/app:v1`), { deadline: soon() });
    assert.equal(resolved.digest, digest);
    // Reported under the registry the token was for, not the realm's host.
    assert.deepEqual(events.retries.map((e) => [e.registry, e.method, e.status]), [[guarded.host, 'GET', 502]]);
  });

  it('never tries the identity-token POST again', async () => {
    const realm = await startServer((req, res) => {
      // Anonymous GETs are refused, so the identity token is what gets exchanged.
      res.writeHead(req.method === 'POST' ? 503 : 401).end();
    });
    closers.push(() => realm.close());
    const guarded = await bearerProxy(realm);
    const { resolver, events } = client();
    const keyring = keyringFor(guarded.host, { identityToken: 'refresh-me', source: 'docker config', key: guarded.host });
    const error = await rejection(resolver.resolve(parseReference(`${guarded.host}/demo/app:v1`), { deadline: soon(), keyring }));
    assert.equal(error.message, `token server ${realm.host} answered 503 Service Unavailable`);
    assert.equal(realm.seen.filter((r) => r.method === 'POST').length, 1);
    assert.deepEqual(events.retries, []);
  });
});

describe('negative caching of outages', () => {
  let registry: TestRegistry;
  const closers: Array<() => Promise<void>> = [];

  before(async () => {
    registry = await startRegistry('http');
    await registry.push('demo/app', 'v1', 'oci-manifest');
  });
  after(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await registry.stop();
  });

  async function down(status: number): Promise<LocalServer> {
    const server = await startServer((_req, res) => {
      res.writeHead(status).end();
    });
    closers.push(() => server.close());
    return server;
  }

  function client(options: RegistryClientOptions = {}): { resolver: Resolver; cache: string[] } {
    const cache: string[] = [];
    const resolver = createRegistryClient({
      allow: ['127.0.0.1'],
      insecure: ['127.0.0.1'],
      retry: { retries: 0 },
      observer: { onCache: (result) => cache.push(result) },
      ...options,
    });
    closers.push(() => resolver.close());
    return { resolver, cache };
  }

  it('answers the same lookup with the same error for a few seconds instead of asking a failing registry again', async () => {
    const failing = await down(503);
    const { resolver, cache } = client();
    const ref = parseReference(`${failing.host}/demo/app:v1`);
    const first = await rejection(resolver.resolve(ref, { deadline: Date.now() + 5000 }));
    const second = await rejection(resolver.resolve(ref, { deadline: Date.now() + 5000 }));
    assert.equal(failing.seen.length, 1);
    assert.equal(second.code, first.code);
    assert.equal(second.message, `registry ${failing.host} answered 503 Service Unavailable`);
    assert.deepEqual(cache, ['miss', 'negative']);
  });

  it('tells a remembered failure about the image as each caller wrote it', async () => {
    const failing = await down(503);
    const { resolver } = client();
    await rejection(resolver.resolve(parseReference(`${failing.host}/demo/app`), { deadline: Date.now() + 5000 }));
    const again = await rejection(resolver.resolve(parseReference(`${failing.host}/demo/app:latest`), { deadline: Date.now() + 5000 }));
    assert.equal(failing.seen.length, 1);
    assert.equal(again.image, `${failing.host}/demo/app:latest`);
    assert.equal(again.registry, failing.host);
  });

  it('does not hand one credential holder the failure another one met', async () => {
    const failing = await down(502);
    const { resolver } = client();
    const ref = parseReference(`${failing.host}/demo/app:v1`);
    await rejection(resolver.resolve(ref, { deadline: Date.now() + 5000 }));
    const keyring = keyringFor(failing.host, { username: 'u', password: 'p', source: 'secret team-b/regcred', key: failing.host });
    await rejection(resolver.resolve(ref, { deadline: Date.now() + 5000, keyring }));
    assert.equal(failing.seen.length, 2);
  });

  it('remembers nothing when the cache is off, and never a missing tag', async () => {
    const failing = await down(503);
    const off = client({ cache: { ttlSeconds: 0, maxEntries: 10 } });
    const ref = parseReference(`${failing.host}/demo/app:v1`);
    await rejection(off.resolver.resolve(ref, { deadline: Date.now() + 5000 }));
    await rejection(off.resolver.resolve(ref, { deadline: Date.now() + 5000 }));
    assert.equal(failing.seen.length, 2);

    const { resolver } = client();
    const later = parseReference(`${registry.host}/demo/pushed-later:v1`);
    assert.equal((await rejection(resolver.resolve(later, { deadline: Date.now() + 5000 }))).code, 'REGISTRY_NOT_FOUND');
    const pushed = await registry.push('demo/pushed-later', 'v1', 'oci-manifest');
    assert.equal((await resolver.resolve(later, { deadline: Date.now() + 5000 })).digest, pushed);
  });

  it('still serves a digest it knows while the registry is down', async () => {
    let up = true;
    const forward = proxyTo(registry.baseUrl, (answer) => answer);
    const flaky = await startServer(async (req, res) => {
      if (up) await forward(req, res);
      else res.writeHead(503).end();
    });
    closers.push(() => flaky.close());
    const { resolver } = client();
    const ref = parseReference(`${flaky.host}/demo/app:v1`);
    const learned = await resolver.resolve(ref, { deadline: Date.now() + 5000 });
    up = false;
    const cached = await resolver.resolve(ref, { deadline: Date.now() + 5000 });
    assert.equal(cached.digest, learned.digest);
    assert.equal(cached.source, 'cache');
  });
});
