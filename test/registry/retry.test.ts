// Retries, Retry-After and the short memory of outages: the policy alone, then against the real registry behind a failing proxy.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseReference } from '../../src/reference/index.ts';
import { createRegistryClient } from '../../src/registry/index.ts';
import type { RegistryClientOptions, RegistryObserver, Resolver } from '../../src/registry/index.ts';
import { SingleFlight } from '../../src/cache/index.ts';
import { DEFAULT_RETRY, MIN_TRY_MS, backoff, retryPolicy, withRetries } from '../../src/registry/retry.ts';
import type { RetryCause } from '../../src/registry/retry.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import type { FaultProxy } from '../support/fault-proxy.ts';
import { lookupKit, rejection, soon } from '../support/lookups.ts';
import { createPki } from '../support/pki.ts';
import type { Pki } from '../support/pki.ts';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { keyringFor, proxyTo } from '../support/servers.ts';
import type { LocalServer } from '../support/servers.ts';

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
  const kit = lookupKit(() => ({ allow: ['127.0.0.1'], insecure: ['127.0.0.1'] }));

  before(async () => {
    registry = await startRegistry('http');
    digest = await registry.push('demo/app', 'v1', 'oci-index');
  });
  after(async () => {
    await kit.closeAll();
    await registry.stop();
  });

  /** A client for loopback test servers that records what it observes. */
  function client(options: RegistryClientOptions = {}): { resolver: Resolver; events: { retries: Parameters<NonNullable<RegistryObserver['onRetry']>>[0][]; cache: string[] } } {
    const events = { retries: [] as Parameters<NonNullable<RegistryObserver['onRetry']>>[0][], cache: [] as string[] };
    const resolver = kit.client({
      observer: { onRetry: (event) => events.retries.push(event), onCache: (result) => events.cache.push(result) },
      ...options,
    });
    return { resolver, events };
  }

  /** A proxy to the registry whose first `failures` manifest requests get `fail` instead. */
  async function failingProxy(failures: number, fail: (req: IncomingMessage, res: ServerResponse) => void): Promise<LocalServer> {
    const forward = proxyTo(registry.baseUrl, (answer) => answer);
    let failed = 0;
    const proxy = await kit.server(async (req, res) => {
      if (req.url?.includes('/manifests/') === true && failed < failures) {
        failed += 1;
        fail(req, res);
        return;
      }
      await forward(req, res);
    });
    return proxy;
  }

  const answer = (status: number, headers: Record<string, string> = {}) => (_req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(status, headers).end();
  };

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
    const proxy = await kit.server(async (req, res) => {
      if (req.method === 'GET' && cut === 0) {
        cut += 1;
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', 'content-length': '400' });
        res.write('{"schemaVersion":2,');
        setTimeout(() => req.socket.destroy(), 20);
        return;
      }
      await forward(req, res);
    });
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

  const finals = [
    ['a missing tag (404)', 404, ['HEAD']],
    // A HEAD answer has no body; the one GET reads the registry's reason for the refusal.
    ['a refusal (403), reading its reason once', 403, ['HEAD', 'GET']],
    ['a bad request (400)', 400, ['HEAD']],
  ] as const;
  for (const [what, status, asked] of finals) {
    it(`does not try again after ${what}`, async () => {
      const proxy = await failingProxy(10, answer(status));
      const { resolver, events } = client();
      await rejection(resolver.resolve(parseReference(`${proxy.host}/demo/app:v1`), { deadline: soon() }));
      assert.deepEqual(proxy.seen.filter((r) => r.path.includes('/manifests/')).map((r) => r.method), asked);
      assert.deepEqual(events.retries, []);
    });
  }
});

describe('retries at the token realm (Distribution, its issuer behind a fault proxy the challenges name)', () => {
  let pki: Pki;
  let registry: TestRegistry;
  /** Between tagpin and the token issuer: each test picks what it does to token requests. */
  let realmFront: FaultProxy | undefined;
  const kit = lookupKit(() => ({ allow: ['127.0.0.1'], ca: pki.caPem }));

  before(async () => {
    pki = await createPki();
    registry = await startRegistry('token', {
      pki,
      announceRealm: async (issuerRealm) => {
        realmFront = await startFaultProxy({ upstream: new URL(issuerRealm).origin, upstreamCa: pki.caPem, tls: { pki } });
        return `${realmFront.baseUrl}/token`;
      },
    });
    await Promise.all([registry.push('public/app', 'v1', 'oci-manifest'), registry.push('private/app', 'v1', 'oci-index')]);
  });
  after(async () => {
    await kit.closeAll();
    await realmFront?.close();
    await registry.stop();
  });

  function front(): FaultProxy {
    assert.ok(realmFront !== undefined, 'the registry announced the realm front');
    return realmFront;
  }

  function client(): { resolver: Resolver; retries: Array<readonly [string, string, number]> } {
    const retries: Array<readonly [string, string, number]> = [];
    return { resolver: kit.client({ observer: { onRetry: (e) => retries.push([e.registry, e.method, e.status]) } }), retries };
  }

  it('tries a token GET again after a 502', async () => {
    let failed = false;
    front().setFault(() => {
      if (failed) return { kind: 'none' };
      failed = true;
      return { kind: 'status', status: 502 };
    });
    const before = registry.tokenRequests().length;
    const { resolver, retries } = client();
    const resolved = await resolver.resolve(parseReference(`${registry.host}/public/app:v1`), { deadline: soon() });
    assert.equal(resolved.digest, await registry.digest('public/app', 'v1'));
    // Reported under the registry the token was for, not the realm's (here the fault proxy's) host.
    assert.deepEqual(retries, [[registry.host, 'GET', 502]]);
    // The 502 never reached the issuer; the retry did, and its token opened the registry.
    assert.deepEqual(registry.tokenRequests().slice(before), [{ method: 'GET', scope: 'repository:public/app:pull', authenticated: false }]);
  });

  it('never tries the identity-token POST again', async () => {
    // The anonymous GET gets a token without access; the identity token is then posted, and the front fails it.
    front().setFault(({ method }) => (method === 'POST' ? { kind: 'status', status: 503 } : { kind: 'none' }));
    const posted = front().requests().filter((r) => r.method === 'POST').length;
    const { resolver, retries } = client();
    const keyring = keyringFor(registry.host, { identityToken: registry.refreshToken ?? '', source: 'docker config', key: registry.host });
    const error = await rejection(resolver.resolve(parseReference(`${registry.host}/private/app:v1`), { deadline: soon(), keyring }));
    assert.equal(error.message, `token server ${front().host} answered 503 Service Unavailable`);
    assert.equal(front().requests().filter((r) => r.method === 'POST').length, posted + 1);
    assert.deepEqual(retries, []);
  });
});

describe('negative caching of outages', () => {
  let registry: TestRegistry;
  const kit = lookupKit(() => ({ allow: ['127.0.0.1'], insecure: ['127.0.0.1'], retry: { retries: 0 } }));

  before(async () => {
    registry = await startRegistry('http');
    await registry.push('demo/app', 'v1', 'oci-manifest');
  });
  after(async () => {
    await kit.closeAll();
    await registry.stop();
  });

  async function down(status: number): Promise<LocalServer> {
    const server = await kit.server((_req, res) => {
      res.writeHead(status).end();
    });
    return server;
  }

  function client(options: RegistryClientOptions = {}): { resolver: Resolver; cache: string[] } {
    const cache: string[] = [];
    const resolver = kit.client({ observer: { onCache: (result) => cache.push(result) }, ...options });
    return { resolver, cache };
  }

  it('answers the same lookup with the same error for a few seconds instead of asking a failing registry again', async () => {
    const failing = await down(503);
    const { resolver, cache } = client();
    const ref = parseReference(`${failing.host}/demo/app:v1`);
    const first = await rejection(resolver.resolve(ref, { deadline: soon(5000) }));
    const second = await rejection(resolver.resolve(ref, { deadline: soon(5000) }));
    assert.equal(failing.seen.length, 1);
    assert.equal(second.code, first.code);
    assert.equal(second.message, `registry ${failing.host} answered 503 Service Unavailable`);
    assert.deepEqual(cache, ['miss', 'negative']);
  });

  it('tells a remembered failure about the image as each caller wrote it', async () => {
    const failing = await down(503);
    const { resolver } = client();
    await rejection(resolver.resolve(parseReference(`${failing.host}/demo/app`), { deadline: soon(5000) }));
    const again = await rejection(resolver.resolve(parseReference(`${failing.host}/demo/app:latest`), { deadline: soon(5000) }));
    assert.equal(failing.seen.length, 1);
    assert.equal(again.image, `${failing.host}/demo/app:latest`);
    assert.equal(again.registry, failing.host);
  });

  it('does not hand one credential holder the failure another one met', async () => {
    const failing = await down(502);
    const { resolver } = client();
    const ref = parseReference(`${failing.host}/demo/app:v1`);
    await rejection(resolver.resolve(ref, { deadline: soon(5000) }));
    const keyring = keyringFor(failing.host, { username: 'u', password: 'p', source: 'secret team-b/regcred', key: failing.host });
    await rejection(resolver.resolve(ref, { deadline: soon(5000), keyring }));
    assert.equal(failing.seen.length, 2);
  });

  it('remembers nothing when the cache is off, and never a missing tag', async () => {
    const failing = await down(503);
    const off = client({ cache: { ttlSeconds: 0, maxEntries: 10 } });
    const ref = parseReference(`${failing.host}/demo/app:v1`);
    await rejection(off.resolver.resolve(ref, { deadline: soon(5000) }));
    await rejection(off.resolver.resolve(ref, { deadline: soon(5000) }));
    assert.equal(failing.seen.length, 2);

    const { resolver } = client();
    const later = parseReference(`${registry.host}/demo/pushed-later:v1`);
    assert.equal((await rejection(resolver.resolve(later, { deadline: soon(5000) }))).code, 'REGISTRY_NOT_FOUND');
    const pushed = await registry.push('demo/pushed-later', 'v1', 'oci-manifest');
    assert.equal((await resolver.resolve(later, { deadline: soon(5000) })).digest, pushed);
  });

  it('still serves a digest it knows while the registry is down', async () => {
    let up = true;
    const forward = proxyTo(registry.baseUrl, (answer) => answer);
    const flaky = await kit.server(async (req, res) => {
      if (up) await forward(req, res);
      else res.writeHead(503).end();
    });
    const { resolver } = client();
    const ref = parseReference(`${flaky.host}/demo/app:v1`);
    const learned = await resolver.resolve(ref, { deadline: soon(5000) });
    up = false;
    const cached = await resolver.resolve(ref, { deadline: soon(5000) });
    assert.equal(cached.digest, learned.digest);
    assert.equal(cached.source, 'cache');
  });
});
