// Resolving tags against the real CNCF Distribution registry in every setup.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryError } from '../../src/errors/index.ts';
import { parseReference } from '../../src/reference/index.ts';
import { resolveAll } from '../../src/admission/index.ts';
import type { ResolvedImage } from '../../src/registry/index.ts';
import { lookupKit, rejection, soon } from '../support/lookups.ts';
import { createPki } from '../support/pki.ts';
import type { Pki } from '../support/pki.ts';
import { manifestMediaTypes, startRegistry } from '../support/registry.ts';
import type { ContentKind, RegistrySetup, TestRegistry } from '../support/registry.ts';
import { keyringFor } from '../support/servers.ts';

const SETUPS: readonly RegistrySetup[] = ['http', 'tls', 'basic', 'token'];
const KINDS: readonly ContentKind[] = ['oci-manifest', 'docker-manifest', 'oci-index', 'docker-list'];

let pki: Pki;
const registries = new Map<RegistrySetup, TestRegistry>();

function registry(setup: RegistrySetup): TestRegistry {
  const found = registries.get(setup);
  assert.ok(found, `registry ${setup} was not started`);
  return found;
}

/**
 * Clients that trust the test CA, reach the http registry over plain HTTP, and may contact the
 * loopback registries (and their token realm); closed after the suite.
 */
const kit = lookupKit(() => ({ ca: pki.caPem, insecure: [registry('http').host], allow: ['127.0.0.1'] }));
const client = kit.client;

/** The credentials that can pull everything from a basic or token registry. */
function owner(reg: TestRegistry): ReturnType<typeof keyringFor> {
  assert.ok(reg.username !== undefined && reg.password !== undefined);
  return keyringFor(reg.host, { username: reg.username, password: reg.password, source: 'test config', key: reg.host });
}

before(async () => {
  pki = await createPki();
  await Promise.all(
    SETUPS.map(async (setup) => {
      registries.set(setup, await startRegistry(setup, setup === 'http' ? {} : { pki }));
    }),
  );
});

after(async () => {
  await kit.closeAll();
  await Promise.all([...registries.values()].map((r) => r.stop()));
});

describe('resolving a tag to the digest the registry reports', () => {
  for (const setup of SETUPS) {
    for (const kind of KINDS) {
      it(`returns the ${kind} digest over the ${setup} setup`, async () => {
        const reg = registry(setup);
        await reg.push(`kinds/${kind}`, 'v1', kind);
        const keyring = setup === 'basic' || setup === 'token' ? owner(reg) : undefined;
        const resolved = await client().resolve(parseReference(`${reg.host}/kinds/${kind}:v1`), {
          deadline: soon(),
          ...(keyring === undefined ? {} : { keyring }),
        });
        assert.equal(resolved.digest, await reg.digest(`kinds/${kind}`, 'v1'));
        assert.equal(resolved.mediaType, manifestMediaTypes[kind]);
        assert.equal(resolved.registry, reg.host);
        assert.equal(resolved.repository, `kinds/${kind}`);
        assert.equal(resolved.tag, 'v1');
        assert.equal(resolved.source, 'registry');
      });
    }
  }

  it('resolves an untagged reference as latest', async () => {
    const reg = registry('http');
    await reg.push('demo/untagged', 'latest', 'oci-manifest');
    const resolved = await client().resolve(parseReference(`${reg.host}/demo/untagged`), { deadline: soon() });
    assert.equal(resolved.tag, 'latest');
    assert.equal(resolved.digest, await reg.digest('demo/untagged', 'latest'));
  });

  it('sends only HEAD requests when the registry gives the digest header', async () => {
    const reg = registry('http');
    await reg.push('demo/head-only', 'v1', 'oci-index');
    await client().resolve(parseReference(`${reg.host}/demo/head-only:v1`), { deadline: soon() });
    const methods = reg.manifestRequests().filter((r) => r.path === '/v2/demo/head-only/manifests/v1').map((r) => r.method);
    assert.deepEqual(methods, ['HEAD']);
  });
});

describe('lookup failures', () => {
  it('names the tag and repository when the tag does not exist', async () => {
    const reg = registry('http');
    await reg.push('demo/app', 'v1', 'oci-manifest');
    const error = await rejection(client().resolve(parseReference(`${reg.host}/demo/app:1.2`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_NOT_FOUND');
    assert.equal(error.message, `tag 1.2 not found in ${reg.host}/demo/app`);
    assert.equal(error.image, `${reg.host}/demo/app:1.2`);
    assert.equal(error.registry, reg.host);
    assert.equal(error.status, 404);
  });

  it('says no credentials matched when a Basic registry is asked anonymously', async () => {
    const reg = registry('basic');
    await reg.push('private/app', 'v1', 'oci-manifest');
    const error = await rejection(client().resolve(parseReference(`${reg.host}/private/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_UNAUTHORIZED');
    assert.equal(error.message, `unauthorized: no credentials matched ${reg.host}`);
    assert.equal(error.status, 401);
  });

  for (const setup of ['basic', 'token'] as const) {
    it(`names the source of wrong credentials rejected by the ${setup} registry, never the secret`, async () => {
      const reg = registry(setup);
      await reg.push('private/wrong', 'v1', 'oci-manifest');
      const keyring = keyringFor(reg.host, { username: 'tagpin', password: 'not-the-password', source: 'secret ns/regcred', key: reg.host });
      const error = await rejection(client().resolve(parseReference(`${reg.host}/private/wrong:v1`), { deadline: soon(), keyring }));
      assert.equal(error.code, 'REGISTRY_UNAUTHORIZED');
      assert.equal(error.message, `unauthorized: credentials from secret ns/regcred were rejected by ${reg.host}`);
      assert.doesNotMatch(error.message, /not-the-password/);
    });
  }

  it('tries each matching credential in order until one works', async () => {
    const reg = registry('basic');
    await reg.push('private/order', 'v1', 'docker-manifest');
    assert.ok(reg.username !== undefined && reg.password !== undefined);
    const keyring = keyringFor(
      reg.host,
      { username: 'nobody', password: 'wrong', source: 'secret ns/stale', key: reg.host },
      { username: reg.username, password: reg.password, source: 'secret ns/good', key: reg.host },
    );
    const resolved = await client().resolve(parseReference(`${reg.host}/private/order:v1`), { deadline: soon(), keyring });
    assert.equal(resolved.digest, await reg.digest('private/order', 'v1'));
  });

  it('refuses a private repository to an anonymous token and says no credentials matched', async () => {
    const reg = registry('token');
    await reg.push('private/token', 'v1', 'oci-manifest');
    const error = await rejection(client().resolve(parseReference(`${reg.host}/private/token:v1`), { deadline: soon() }));
    assert.equal(error.message, `unauthorized: no credentials matched ${reg.host}`);
  });
});

describe('bearer tokens', () => {
  it('pulls a public repository with an anonymous token, reporting every exchange', async () => {
    const reg = registry('token');
    await reg.push('public/app', 'v1', 'oci-index');
    const before = reg.tokenRequests().length;
    const events: Array<{ registry: string; method: string; status: number }> = [];
    const resolver = client({ observer: { onRequest: (event) => events.push({ ...event }) } });
    const resolved = await resolver.resolve(parseReference(`${reg.host}/public/app:v1`), { deadline: soon() });
    assert.equal(resolved.digest, await reg.digest('public/app', 'v1'));
    const asked = reg.tokenRequests().slice(before);
    assert.deepEqual(asked.map((r) => ({ scope: r.scope, authenticated: r.authenticated })), [
      { scope: 'repository:public/app:pull', authenticated: false },
    ]);
    assert.ok(reg.tokenRealm !== undefined);
    // The token GET went to the realm's host but is reported under the registry it was for.
    assert.notEqual(new URL(reg.tokenRealm).host, reg.host);
    assert.deepEqual(events, [
      { registry: reg.host, method: 'HEAD', status: 401 },
      { registry: reg.host, method: 'GET', status: 200 },
      { registry: reg.host, method: 'HEAD', status: 200 },
    ]);
  });

  it('reuses a cached token for the next lookup in the same repository', async () => {
    const reg = registry('token');
    await reg.push('private/tokens', 'a', 'oci-manifest');
    await reg.push('private/tokens', 'b', 'oci-manifest');
    const resolver = client();
    const keyring = owner(reg);
    await resolver.resolve(parseReference(`${reg.host}/private/tokens:a`), { deadline: soon(), keyring });
    const afterFirst = reg.tokenRequests().length;
    const second = await resolver.resolve(parseReference(`${reg.host}/private/tokens:b`), { deadline: soon(), keyring });
    assert.equal(second.digest, await reg.digest('private/tokens', 'b'));
    assert.equal(reg.tokenRequests().length, afterFirst);
  });

  it('exchanges an identity token at the realm with a refresh_token grant', async () => {
    const reg = registry('token');
    await reg.push('private/identity', 'v1', 'docker-list');
    assert.ok(reg.refreshToken !== undefined);
    const keyring = keyringFor(reg.host, { identityToken: reg.refreshToken, source: 'docker config', key: reg.host });
    const before = reg.tokenRequests().length;
    const resolved = await client().resolve(parseReference(`${reg.host}/private/identity:v1`), { deadline: soon(), keyring });
    assert.equal(resolved.digest, await reg.digest('private/identity', 'v1'));
    const posts = reg.tokenRequests().slice(before).filter((r) => r.method === 'POST');
    assert.deepEqual(posts.map((r) => ({ scope: r.scope, authenticated: r.authenticated })), [
      { scope: 'repository:private/identity:pull', authenticated: true },
    ]);
  });
});

describe('result cache and single-flight', () => {
  it('answers a repeated lookup from the cache without asking the registry', async () => {
    const reg = registry('http');
    await reg.push('demo/cached', 'v1', 'oci-manifest');
    const events: string[] = [];
    const resolver = client({ observer: { onCache: (result) => events.push(result) } });
    const ref = parseReference(`${reg.host}/demo/cached:v1`);
    const first = await resolver.resolve(ref, { deadline: soon() });
    const count = reg.manifestRequests().length;
    const second = await resolver.resolve(ref, { deadline: soon() });
    assert.equal(reg.manifestRequests().length, count);
    assert.equal(second.digest, first.digest);
    assert.equal(second.source, 'cache');
    assert.deepEqual(events, ['miss', 'hit']);
  });

  it('asks again once the entry has expired, and sees a moved tag', async () => {
    const reg = registry('http');
    await reg.push('demo/moving', 'v1', 'oci-manifest');
    const resolver = client({ cache: { ttlSeconds: 0, maxEntries: 10 } });
    const ref = parseReference(`${reg.host}/demo/moving:v1`);
    const first = await resolver.resolve(ref, { deadline: soon() });
    const moved = await reg.push('demo/moving', 'v1', 'oci-manifest');
    const second = await resolver.resolve(ref, { deadline: soon() });
    assert.notEqual(second.digest, first.digest);
    assert.equal(second.digest, moved);
    assert.equal(second.source, 'registry');
  });

  it('shares one manifest request among 50 concurrent lookups of the same reference', async () => {
    const reg = registry('http');
    await reg.push('demo/flight', 'v1', 'oci-index');
    const events: string[] = [];
    const resolver = client({ observer: { onCache: (result) => events.push(result) } });
    const ref = parseReference(`${reg.host}/demo/flight:v1`);
    const results = await Promise.all(Array.from({ length: 50 }, () => resolver.resolve(ref, { deadline: soon() })));
    const requests = reg.manifestRequests().filter((r) => r.path === '/v2/demo/flight/manifests/v1');
    assert.equal(requests.length, 1);
    assert.equal(new Set(results.map((r) => r.digest)).size, 1);
    assert.equal(results.filter((r) => r.source === 'registry').length, 1);
    assert.equal(results.filter((r) => r.source === 'coalesced').length, 49);
    assert.equal(events.filter((e) => e === 'coalesced').length, 49);
  });

  it('never serves a digest learned with credentials to a request without them', async () => {
    const reg = registry('basic');
    await reg.push('private/scoped', 'v1', 'oci-manifest');
    const resolver = client();
    const ref = parseReference(`${reg.host}/private/scoped:v1`);
    const learned = await resolver.resolve(ref, { deadline: soon(), keyring: owner(reg) });
    assert.equal(learned.digest, await reg.digest('private/scoped', 'v1'));

    const anonymous = await rejection(resolver.resolve(ref, { deadline: soon() }));
    assert.equal(anonymous.code, 'REGISTRY_UNAUTHORIZED');
    const stranger = keyringFor(reg.host, { username: 'other', password: 'other', source: 'secret other/regcred', key: reg.host });
    const other = await rejection(resolver.resolve(ref, { deadline: soon(), keyring: stranger }));
    assert.equal(other.message, `unauthorized: credentials from secret other/regcred were rejected by ${reg.host}`);

    const again = await resolver.resolve(ref, { deadline: soon(), keyring: owner(reg) });
    assert.equal(again.source, 'cache');
  });

  it('serves a digest learned anonymously to a request with credentials', async () => {
    const reg = registry('token');
    await reg.push('public/shared', 'v1', 'oci-manifest');
    const resolver = client();
    const ref = parseReference(`${reg.host}/public/shared:v1`);
    await resolver.resolve(ref, { deadline: soon() });
    const withCredentials = await resolver.resolve(ref, { deadline: soon(), keyring: owner(reg) });
    assert.equal(withCredentials.source, 'cache');
  });

  it('never remembers a missing tag, so a tag pushed next is found at once', async () => {
    const reg = registry('http');
    const resolver = client();
    const ref = parseReference(`${reg.host}/demo/later:v1`);
    await rejection(resolver.resolve(ref, { deadline: soon() }));
    const pushed = await reg.push('demo/later', 'v1', 'oci-manifest');
    assert.equal((await resolver.resolve(ref, { deadline: soon() })).digest, pushed);
  });
});

describe('resolveAll', () => {
  it('looks up each distinct reference once, keyed by what the user wrote, and never rejects', async () => {
    const reg = registry('http');
    await reg.push('demo/all', 'latest', 'oci-manifest');
    await reg.push('demo/all', 'v2', 'docker-list');
    const written = [`${reg.host}/demo/all`, `${reg.host}/demo/all:latest`, `${reg.host}/demo/all:v2`, `${reg.host}/demo/all:missing`];
    const before = reg.manifestRequests().length;
    const results = await resolveAll(client(), written.map(parseReference), { deadline: soon() });

    assert.deepEqual([...results.keys()].sort(), [...written].sort());
    const latest = results.get(`${reg.host}/demo/all`) as ResolvedImage;
    assert.equal(latest.digest, await reg.digest('demo/all', 'latest'));
    assert.equal(results.get(`${reg.host}/demo/all:latest`), latest);
    assert.equal((results.get(`${reg.host}/demo/all:v2`) as ResolvedImage).digest, await reg.digest('demo/all', 'v2'));
    const missing = results.get(`${reg.host}/demo/all:missing`);
    assert.ok(missing instanceof RegistryError);
    assert.equal(missing.image, `${reg.host}/demo/all:missing`);
    assert.equal(reg.manifestRequests().length - before, 3);
  });

  it('returns a timeout error for every image when the deadline has already passed', async () => {
    const reg = registry('http');
    const results = await resolveAll(client(), [parseReference(`${reg.host}/demo/late:v1`)], { deadline: Date.now() - 1 });
    const outcome = results.get(`${reg.host}/demo/late:v1`);
    assert.ok(outcome instanceof RegistryError);
    assert.equal(outcome.code, 'REGISTRY_TIMEOUT');
  });
});

describe('looking up a reference by its digest alone', () => {
  for (const setup of ['http', 'token'] as const) {
    it(`confirms a digest the registry holds with one HEAD by digest (${setup})`, async () => {
      const reg = registry(setup);
      const digest = await reg.push('digests/held', 'v1', 'oci-index');
      const keyring = setup === 'token' ? owner(reg) : undefined;
      const before = reg.manifestRequests().length;
      const resolved = await client().resolve(parseReference(`${reg.host}/digests/held@${digest}`), {
        deadline: soon(),
        ...(keyring === undefined ? {} : { keyring }),
      });
      assert.equal(resolved.digest, digest);
      assert.equal(resolved.mediaType, manifestMediaTypes['oci-index']);
      const asked = reg.manifestRequests().slice(before).filter((r) => r.status === 200).map((r) => `${r.method} ${r.path}`);
      assert.deepEqual(asked, [`HEAD /v2/digests/held/manifests/${digest}`]);
    });
  }

  it('answers REGISTRY_NOT_FOUND naming the manifest once the registry deleted it', async () => {
    const reg = registry('http');
    const digest = await reg.push('digests/deleted', 'v1', 'oci-manifest');
    await reg.deleteManifest('digests/deleted', digest);
    const image = `${reg.host}/digests/deleted@${digest}`;
    const error = await rejection(client().resolve(parseReference(image), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_NOT_FOUND');
    assert.equal(error.message, `manifest ${digest} not found in ${reg.host}/digests/deleted`);
    assert.equal(error.image, image);
  });

  it('keeps a tag and its digest apart in one batch: name:tag and name@digest are two lookups', async () => {
    const reg = registry('http');
    const first = await reg.push('digests/batch', 'v1', 'oci-manifest');
    const moved = await reg.push('digests/batch', 'v1', 'oci-manifest');
    const byTag = parseReference(`${reg.host}/digests/batch:v1`);
    const byDigest = parseReference(`${reg.host}/digests/batch@${first}`);
    const answers = await resolveAll(client(), [byTag, byDigest], { deadline: soon() });
    assert.equal((answers.get(byTag.original) as ResolvedImage).digest, moved);
    assert.equal((answers.get(byDigest.original) as ResolvedImage).digest, first);
  });
});
