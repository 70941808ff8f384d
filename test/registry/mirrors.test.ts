// Mirrors and pull-through caches: real Distribution caches (`proxy.remoteurl`) in front of real upstream registries.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createKeyring } from '../../src/credentials/index.ts';
import type { Credential } from '../../src/credentials/index.ts';
import { RegistryErrorCode } from '../../src/errors/index.ts';
import { parseReference } from '../../src/reference/index.ts';
import type { MirrorFallbackReason, RegistryClientOptions, RegistryObserver } from '../../src/registry/index.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import type { Fault, FaultProxy } from '../support/fault-proxy.ts';
import { lookupKit, rejection, soon } from '../support/lookups.ts';
import { createPki } from '../support/pki.ts';
import type { Pki } from '../support/pki.ts';
import { closedHost } from '../support/ports.ts';
import { startRegistry, tagpinUserAgent } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { startSilentServer } from '../support/servers.ts';

let pki: Pki;
/** An anonymous HTTPS registry, and a plain-HTTP pull-through cache of it. */
let upstream: TestRegistry;
let cache: TestRegistry;
/** A token-auth registry, and a pull-through cache of it that wants Basic credentials of its own. */
let privateUpstream: TestRegistry;
let privateCache: TestRegistry;
/** An ordinary registry holding nothing: a mirror that answers 404. */
let empty: TestRegistry;

/**
 * Clients that trust the test CA and may reach the two upstreams (and the token realm) on loopback;
 * mirrors are listed nowhere else, so reaching them proves they need no listing.
 */
const kit = lookupKit(() => ({
  ca: pki.caPem,
  privateHosts: [upstream.host, privateUpstream.host, new URL(privateUpstream.tokenRealm ?? 'https://missing.invalid').host],
}));

before(async () => {
  pki = await createPki();
  [upstream, privateUpstream, empty] = await Promise.all([
    startRegistry('tls', { pki }),
    startRegistry('token', { pki }),
    startRegistry('http'),
  ]);
  [cache, privateCache] = await Promise.all([
    startRegistry('http', { pullThrough: upstream }),
    startRegistry('basic', { pki, pullThrough: privateUpstream }),
  ]);
});

after(async () => {
  await kit.closeAll();
  await Promise.all([upstream, cache, privateUpstream, privateCache, empty].map((r) => r?.stop()));
});

/** Counts of tagpin's own manifest requests at `registry`, to compare before and after a lookup. */
function tagpinAsked(registry: TestRegistry): number {
  return registry.manifestRequests({ userAgent: tagpinUserAgent }).length;
}

/** An observer recording fallbacks and retries. */
function recorder(): { readonly observer: RegistryObserver; readonly fallbacks: MirrorFallbackReason[]; readonly retries: number[] } {
  const fallbacks: MirrorFallbackReason[] = [];
  const retries: number[] = [];
  return {
    fallbacks,
    retries,
    observer: {
      onMirrorFallback: (event) => fallbacks.push(event.reason),
      onRetry: (event) => retries.push(event.status),
    },
  };
}

/** A client whose `upstream` lookups try `mirrors` first. */
function mirrored(mirrors: readonly string[], extra: RegistryClientOptions = {}): ReturnType<typeof kit.client> {
  return kit.client({ mirrors: { [upstream.host]: mirrors }, ...extra });
}

async function faultProxy(fault: Fault, target: TestRegistry = cache): Promise<FaultProxy> {
  const proxy = await startFaultProxy({ upstream: target.baseUrl, ...(target.pki === undefined ? {} : { upstreamCa: target.pki.caPem }), fault });
  kit.onClose(() => proxy.close());
  return proxy;
}

describe('a lookup through a pull-through cache', () => {
  it("answers with the upstream's digest while the upstream sees no manifest request from tagpin", async () => {
    const pushed = await upstream.push('mirrored/app', 'v1', 'oci-index');
    const upstreamBefore = tagpinAsked(upstream);
    const cacheBefore = tagpinAsked(cache);
    const resolved = await mirrored([cache.baseUrl]).resolve(parseReference(`${upstream.host}/mirrored/app:v1`), { deadline: soon() });
    assert.equal(resolved.digest, pushed);
    assert.equal(resolved.registry, upstream.host, 'the image keeps its own registry');
    assert.equal(tagpinAsked(upstream), upstreamBefore, 'the upstream was not asked by tagpin');
    assert.ok(tagpinAsked(cache) > cacheBefore, 'the cache was asked');
  });

  it('reaches a plain-HTTP mirror on loopback without registries.insecure or privateHosts, while the upstream is HTTPS', async () => {
    const pushed = await upstream.push('mirrored/plain', 'v1', 'docker-manifest');
    const before = tagpinAsked(cache);
    // The server's guard: loopback is refused unless listed, and the mirror is listed only as a mirror.
    const resolved = await mirrored([cache.baseUrl], { unlistedReach: 'public' }).resolve(
      parseReference(`${upstream.host}/mirrored/plain:v1`),
      { deadline: soon() },
    );
    assert.equal(resolved.digest, pushed);
    assert.equal(tagpinAsked(cache), before + 1, 'one HEAD, over plain HTTP, answered by the cache');
    assert.equal(cache.manifestRequests({ userAgent: tagpinUserAgent }).at(-1)?.status, 200);
  });

  it('contacts the mirrors of a registry in registries.allow although they are not listed', async () => {
    const pushed = await upstream.push('mirrored/allowed', 'v1', 'oci-manifest');
    const upstreamBefore = tagpinAsked(upstream);
    const resolved = await mirrored([cache.baseUrl], { allow: [upstream.host], privateHosts: [] }).resolve(
      parseReference(`${upstream.host}/mirrored/allowed:v1`),
      { deadline: soon() },
    );
    assert.equal(resolved.digest, pushed);
    assert.equal(tagpinAsked(upstream), upstreamBefore);
  });

  it('contacts neither a registry left out of registries.allow nor its mirrors', async () => {
    const cacheBefore = cache.requests().length;
    const client = kit.client({ allow: [upstream.host], mirrors: { 'blocked.example': [cache.baseUrl] } });
    const error = await rejection(client.resolve(parseReference('blocked.example/app:v1'), { deadline: soon() }));
    assert.equal(error.code, RegistryErrorCode.notAllowed);
    assert.equal(cache.requests().length, cacheBefore, 'the mirror was not contacted');
  });

  it('sends Docker Hub images to the docker.io mirror with their library/ path, never contacting Docker Hub', async () => {
    const pushed = await upstream.push('library/mirrortest', 'v1', 'oci-index');
    for (const key of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
      const before = cache.manifestRequests({ userAgent: tagpinUserAgent }).length;
      // Every name resolves to loopback, where nothing listens on 443: Docker Hub is out of reach whatever happens.
      const client = kit.client({
        mirrors: { [key]: [cache.baseUrl] },
        lookup: () => Promise.resolve([{ address: '127.0.0.1', family: 4 }]),
      });
      const resolved = await client.resolve(parseReference('mirrortest:v1'), { deadline: soon() });
      assert.equal(resolved.digest, pushed, `mirror keyed ${key}`);
      assert.equal(resolved.registry, 'docker.io');
      const asked = cache.manifestRequests({ userAgent: tagpinUserAgent }).slice(before);
      assert.deepEqual(asked.map((r) => r.path), ['/v2/library/mirrortest/manifests/v1']);
    }
  });

  it("asks at the mirror URL's path, naming the registry in ?ns= as containerd does", async () => {
    const pushed = await upstream.push('mirrored/prefixed', 'v1', 'oci-manifest');
    const stub = await kit.server((_req, res) => {
      res.writeHead(404).end();
    });
    const resolved = await mirrored([`http://${stub.host}/cache`]).resolve(parseReference(`${upstream.host}/mirrored/prefixed:v1`), {
      deadline: soon(),
    });
    assert.equal(resolved.digest, pushed, 'the 404 fell back to the upstream');
    assert.deepEqual(
      stub.seen.map((r) => `${r.method} ${r.path}`),
      [`HEAD /cache/v2/mirrored/prefixed/manifests/v1?ns=${encodeURIComponent(upstream.host)}`],
    );
  });
});

describe('falling back to the next endpoint', () => {
  it('falls back to the upstream when the mirror is down, without retrying the mirror or surfacing its error', async () => {
    const pushed = await upstream.push('fallback/down', 'v1', 'oci-index');
    const before = tagpinAsked(upstream);
    const seen = recorder();
    const resolved = await mirrored([`http://${await closedHost()}`], { observer: seen.observer }).resolve(
      parseReference(`${upstream.host}/fallback/down:v1`),
      { deadline: soon() },
    );
    assert.equal(resolved.digest, pushed);
    assert.ok(tagpinAsked(upstream) > before, "the upstream's access log shows tagpin's request");
    assert.deepEqual(seen.fallbacks, ['unreachable']);
    assert.deepEqual(seen.retries, [], 'the refused mirror was asked once; the upstream answered the first time');
  });

  it('falls back past a mirror that answers 404', async () => {
    const pushed = await upstream.push('fallback/missing', 'v1', 'oci-manifest');
    const seen = recorder();
    const emptyBefore = tagpinAsked(empty);
    const resolved = await mirrored([empty.baseUrl], { observer: seen.observer }).resolve(parseReference(`${upstream.host}/fallback/missing:v1`), {
      deadline: soon(),
    });
    assert.equal(resolved.digest, pushed);
    assert.equal(tagpinAsked(empty), emptyBefore + 1);
    assert.deepEqual(seen.fallbacks, ['not-found']);
  });

  it('falls back past a mirror that answers 500, asking it once', async () => {
    const pushed = await upstream.push('fallback/broken', 'v1', 'oci-manifest');
    const proxy = await faultProxy({ kind: 'status', status: 500 });
    const seen = recorder();
    const resolved = await mirrored([proxy.baseUrl], { observer: seen.observer }).resolve(parseReference(`${upstream.host}/fallback/broken:v1`), {
      deadline: soon(),
    });
    assert.equal(resolved.digest, pushed);
    assert.equal(proxy.count(), 1, 'no retries against a mirror');
    assert.deepEqual(seen.fallbacks, ['unavailable']);
  });

  it('tries mirrors in order: the first is down, the second answers, the upstream is not asked', async () => {
    const pushed = await upstream.push('fallback/ordered', 'v1', 'docker-list');
    const upstreamBefore = tagpinAsked(upstream);
    const cacheBefore = tagpinAsked(cache);
    const seen = recorder();
    const resolved = await mirrored([`http://${await closedHost()}`, cache.baseUrl], { observer: seen.observer }).resolve(
      parseReference(`${upstream.host}/fallback/ordered:v1`),
      { deadline: soon() },
    );
    assert.equal(resolved.digest, pushed);
    assert.ok(tagpinAsked(cache) > cacheBefore);
    assert.equal(tagpinAsked(upstream), upstreamBefore);
    assert.deepEqual(seen.fallbacks, ['unreachable']);
  });

  it('leaves the upstream its share of the time when a mirror never answers', async () => {
    const pushed = await upstream.push('fallback/silent', 'v1', 'oci-manifest');
    const silent = await startSilentServer();
    kit.onClose(() => silent.close());
    const seen = recorder();
    const resolved = await mirrored([`http://${silent.host}`], { observer: seen.observer }).resolve(parseReference(`${upstream.host}/fallback/silent:v1`), {
      deadline: soon(4000),
    });
    assert.equal(resolved.digest, pushed);
    assert.equal(silent.asked(), 1, 'the mirror was asked');
    assert.deepEqual(seen.fallbacks, ['unreachable']);
  });

  it('skips a mirror that just failed for the next images, until ttlSeconds 0 turns that memory off', async () => {
    await upstream.push('fallback/remembered', 'a', 'oci-manifest');
    await upstream.push('fallback/remembered', 'b', 'oci-manifest');
    for (const [cacheSettings, asked, reasons] of [
      [undefined, 1, ['unavailable', 'skipped']],
      [{ ttlSeconds: 0, maxEntries: 100 }, 2, ['unavailable', 'unavailable']],
    ] as const) {
      const proxy = await faultProxy({ kind: 'status', status: 503 });
      const seen = recorder();
      const client = mirrored([proxy.baseUrl], { observer: seen.observer, ...(cacheSettings === undefined ? {} : { cache: cacheSettings }) });
      for (const tag of ['a', 'b']) {
        const resolved = await client.resolve(parseReference(`${upstream.host}/fallback/remembered:${tag}`), { deadline: soon() });
        assert.equal(resolved.digest, await upstream.digest('fallback/remembered', tag));
      }
      assert.equal(proxy.count(), asked);
      assert.deepEqual(seen.fallbacks, reasons);
    }
  });

  it("reports the upstream's own error when every endpoint fails, naming the mirrors tried", async () => {
    const down = `http://${await closedHost()}`;
    const error = await rejection(
      mirrored([down, empty.baseUrl]).resolve(parseReference(`${upstream.host}/fallback/nowhere:v1`), { deadline: soon() }),
    );
    assert.equal(error.code, RegistryErrorCode.notFound);
    assert.equal(error.registry, upstream.host);
    assert.ok(!error.message.includes('\n'));
    assert.match(
      error.message,
      new RegExp(
        `^repository fallback/nowhere not found in ${upstream.host} \\(mirrors tried first: ${down} failed: cannot connect to [^;]+: connection refused; ${empty.baseUrl} answered 404 Not Found\\)$`,
      ),
    );
  });
});

describe('credentials at a mirror', () => {
  /** The credentials of the token upstream, under its host. */
  function upstreamCredential(): Credential {
    assert.ok(privateUpstream.username !== undefined && privateUpstream.password !== undefined);
    return { username: privateUpstream.username, password: privateUpstream.password, source: 'upstream config', key: privateUpstream.host };
  }
  /** The Basic credentials of the private cache, under the host tagpin reaches it at. */
  function mirrorCredential(host: string): Credential {
    assert.ok(privateCache.username !== undefined && privateCache.password !== undefined);
    return { username: privateCache.username, password: privateCache.password, source: 'mirror config', key: host };
  }
  function basic(credential: Credential): string {
    return `Basic ${Buffer.from(`${credential.username ?? ''}:${credential.password ?? ''}`).toString('base64')}`;
  }
  const privateMirrored = (proxy: FaultProxy): ReturnType<typeof kit.client> => kit.client({ mirrors: { [privateUpstream.host]: [proxy.baseUrl] } });

  it("never sends the upstream's credentials to the mirror, and falls back to the upstream with them", async () => {
    const pushed = await privateUpstream.push('creds/upstream-only', 'v1', 'oci-manifest');
    const proxy = await faultProxy({ kind: 'none' }, privateCache);
    const keyring = createKeyring([upstreamCredential()]);
    const seen = recorder();
    const tokensBefore = privateUpstream.tokenRequests().filter((r) => r.authenticated).length;
    const client = kit.client({ mirrors: { [privateUpstream.host]: [proxy.baseUrl] }, observer: seen.observer });
    const resolved = await client.resolve(parseReference(`${privateUpstream.host}/creds/upstream-only:v1`), { deadline: soon(), keyring });
    assert.equal(resolved.digest, pushed);
    assert.ok(proxy.count() > 0, 'the mirror was asked');
    assert.deepEqual(
      proxy.requests().map((r) => r.authorization),
      proxy.requests().map(() => undefined),
      'no Authorization reached the mirror',
    );
    assert.deepEqual(seen.fallbacks, ['unauthorized']);
    assert.ok(privateUpstream.tokenRequests().filter((r) => r.authenticated).length > tokensBefore, "the upstream's realm got its credentials");
  });

  it("answers with the mirror's own credentials, and serves that digest from cache only to holders of them", async () => {
    const pushed = await privateUpstream.push('creds/mirror', 'v1', 'oci-index');
    const proxy = await faultProxy({ kind: 'none' }, privateCache);
    const both = createKeyring([upstreamCredential(), mirrorCredential(proxy.host)]);
    const upstreamOnly = createKeyring([upstreamCredential()]);
    const client = privateMirrored(proxy);
    const image = parseReference(`${privateUpstream.host}/creds/mirror:v1`);
    const upstreamBefore = tagpinAsked(privateUpstream);

    const first = await client.resolve(image, { deadline: soon(), keyring: both });
    assert.equal(first.digest, pushed);
    assert.equal(first.source, 'registry');
    assert.equal(tagpinAsked(privateUpstream), upstreamBefore, 'the mirror answered');
    const sent = proxy.requests().flatMap((r) => (r.authorization === undefined ? [] : [r.authorization]));
    assert.ok(sent.includes(basic(mirrorCredential(proxy.host))), "the mirror's credentials were sent to it");
    assert.ok(!sent.includes(basic(upstreamCredential())), "the upstream's never were");

    const without = await client.resolve(image, { deadline: soon(), keyring: upstreamOnly });
    assert.equal(without.source, 'registry', "no cache hit without the mirror's credential");
    assert.equal(without.digest, pushed);

    const again = await client.resolve(image, { deadline: soon(), keyring: both });
    assert.equal(again.source, 'cache');
  });

  it('serves a digest an anonymous mirror answered to everyone', async () => {
    const pushed = await upstream.push('creds/anonymous', 'v1', 'oci-manifest');
    const client = mirrored([cache.baseUrl]);
    const image = parseReference(`${upstream.host}/creds/anonymous:v1`);
    const keyring = createKeyring([{ username: 'someone', password: 'secret', source: 'test', key: cache.host }]);
    assert.equal((await client.resolve(image, { deadline: soon(), keyring })).digest, pushed);
    const anyone = await client.resolve(image, { deadline: soon() });
    assert.equal(anyone.source, 'cache');
    assert.equal(anyone.digest, pushed);
  });
});

describe('mirror settings given to the client', () => {
  it('refuses a bad mirror URL with an error naming the key', () => {
    assert.throws(() => kit.client({ mirrors: { 'docker.io': ['ftp://mirror.corp'] } }), {
      name: 'ConfigError',
      message: 'registries.mirrors[docker.io][0] must be an http:// or https:// URL like https://mirror.corp:5000 (got "ftp://mirror.corp")',
    });
  });
});
