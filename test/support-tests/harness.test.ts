import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Agent, request } from 'undici';
import { createPki } from '../support/pki.ts';
import type { Pki } from '../support/pki.ts';
import { manifestAccept, manifestMediaTypes, requireRegistryBinary, startRegistry } from '../support/registry.ts';
import type { ContentKind, RegistrySetup, TestRegistry } from '../support/registry.ts';

const setups: readonly RegistrySetup[] = ['http', 'tls', 'basic', 'token'];
const kinds: readonly ContentKind[] = ['oci-manifest', 'docker-manifest', 'oci-index', 'docker-list'];

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

void describe('test registry harness', () => {
  let pki: Pki;
  let agent: Agent;
  const registries = new Map<RegistrySetup, TestRegistry>();

  before(async () => {
    requireRegistryBinary();
    pki = await createPki();
    agent = new Agent({ connect: { ca: pki.caPem } });
    const started = await Promise.all(setups.map((setup) => startRegistry(setup, { pki })));
    for (const registry of started) registries.set(registry.setup, registry);
  });

  after(async () => {
    await Promise.all([...registries.values()].map((registry) => registry.stop()));
    await agent.close();
  });

  function registryFor(setup: RegistrySetup): TestRegistry {
    const registry = registries.get(setup);
    assert.ok(registry, `${setup} registry started`);
    return registry;
  }

  async function call(url: string, options: { method?: 'GET' | 'HEAD' | 'POST'; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
    const res = await request(url, {
      method: options.method ?? 'GET',
      dispatcher: agent,
      headers: options.headers ?? {},
      ...(options.body === undefined ? {} : { body: options.body }),
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, headers: res.headers, body };
  }

  function basic(username: string, password: string): string {
    return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  /** Gets a token from the realm the way a client would (GET, optional Basic credentials). */
  async function fetchToken(registry: TestRegistry, scope: string, credentials?: { username: string; password: string }): Promise<Answer> {
    assert.ok(registry.tokenRealm !== undefined && registry.tokenService !== undefined);
    const url = new URL(registry.tokenRealm);
    url.searchParams.set('service', registry.tokenService);
    url.searchParams.set('scope', scope);
    return call(url.href, credentials === undefined ? {} : { headers: { authorization: basic(credentials.username, credentials.password) } });
  }

  function bearer(answer: Answer): string {
    const parsed = JSON.parse(answer.body.toString('utf8')) as { token?: string; access_token?: string };
    assert.ok(typeof parsed.token === 'string' && parsed.token === parsed.access_token, 'token and access_token are the same JWT');
    return `Bearer ${parsed.token}`;
  }

  /** Credentials a client with full access would send for `repository`. */
  async function adminAuthorization(registry: TestRegistry, repository: string): Promise<Record<string, string>> {
    const { username, password } = registry;
    if (registry.setup === 'basic' && username !== undefined && password !== undefined) {
      return { authorization: basic(username, password) };
    }
    if (registry.setup === 'token' && username !== undefined && password !== undefined) {
      const answer = await fetchToken(registry, `repository:${repository}:pull`, { username, password });
      assert.equal(answer.status, 200);
      return { authorization: bearer(answer) };
    }
    return {};
  }

  function sha256(bytes: Buffer): string {
    return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  }

  for (const setup of setups) {
    void it(`${setup}: HEAD and GET by tag return the digest and media type of every pushed content kind`, async () => {
      const registry = registryFor(setup);
      for (const kind of kinds) {
        const repository = `harness/${kind}`;
        const pushed = await registry.push(repository, 'v1', kind);
        assert.match(pushed, /^sha256:[a-f0-9]{64}$/);
        const auth = await adminAuthorization(registry, repository);
        const url = `${registry.baseUrl}/v2/${repository}/manifests/v1`;

        const head = await call(url, { method: 'HEAD', headers: { accept: manifestAccept, ...auth } });
        assert.equal(head.status, 200, `${kind} HEAD`);
        assert.equal(head.headers['docker-content-digest'], pushed, `${kind} HEAD digest`);
        assert.equal(head.headers['content-type'], manifestMediaTypes[kind], `${kind} HEAD media type`);

        const get = await call(url, { headers: { accept: manifestAccept, ...auth } });
        assert.equal(get.status, 200, `${kind} GET`);
        assert.equal(get.headers['docker-content-digest'], pushed, `${kind} GET digest`);
        assert.equal(sha256(get.body), pushed, `${kind}: the registry's digest covers the bytes it serves`);
        const manifest = JSON.parse(get.body.toString('utf8')) as { mediaType: string; manifests?: Array<{ mediaType: string; platform: { os: string; architecture: string } }> };
        assert.equal(manifest.mediaType, manifestMediaTypes[kind]);
        if (kind === 'oci-index' || kind === 'docker-list') {
          const child = kind === 'oci-index' ? manifestMediaTypes['oci-manifest'] : manifestMediaTypes['docker-manifest'];
          assert.deepEqual(
            manifest.manifests?.map((m) => [m.mediaType, `${m.platform.os}/${m.platform.architecture}`]),
            [[child, 'linux/amd64'], [child, 'linux/arm64']],
          );
        }
        assert.equal(await registry.digest(repository, 'v1'), pushed);
      }
    });
  }

  void it('moves a tag to a new digest when the same kind is pushed again', async () => {
    const registry = registryFor('http');
    const first = await registry.push('harness/moving', 'stable', 'oci-manifest');
    const second = await registry.push('harness/moving', 'stable', 'oci-manifest');
    assert.notEqual(first, second);
    assert.equal(await registry.digest('harness/moving', 'stable'), second);
  });

  void it("lists the manifest requests clients made, without the harness's own pushes and lookups", async () => {
    const registry = registryFor('http');
    await registry.push('harness/counted', 'v1', 'docker-manifest');
    await registry.digest('harness/counted', 'v1');
    const before = registry.manifestRequests().length;
    const base = `${registry.baseUrl}/v2/harness/counted/manifests`;
    await call(`${base}/v1`, { method: 'HEAD', headers: { accept: manifestAccept } });
    await call(`${base}/v1`, { headers: { accept: manifestAccept } });
    await call(`${base}/missing`, { method: 'HEAD', headers: { accept: manifestAccept } });
    await call(`${registry.baseUrl}/v2/`);
    assert.deepEqual(registry.manifestRequests().slice(before), [
      { method: 'HEAD', path: '/v2/harness/counted/manifests/v1', status: 200 },
      { method: 'GET', path: '/v2/harness/counted/manifests/v1', status: 200 },
      { method: 'HEAD', path: '/v2/harness/counted/manifests/missing', status: 404 },
    ]);
  });

  void it('tls: serves a certificate only the harness CA vouches for', async () => {
    const registry = registryFor('tls');
    const untrusting = new Agent();
    try {
      await assert.rejects(request(`${registry.baseUrl}/v2/`, { dispatcher: untrusting }), /certificate/i);
    } finally {
      await untrusting.close();
    }
    assert.equal((await call(`${registry.baseUrl}/v2/`)).status, 200);
  });

  void it('basic: rejects missing and wrong credentials and accepts the harness user', async () => {
    const registry = registryFor('basic');
    assert.ok(registry.username !== undefined && registry.password !== undefined);
    const url = `${registry.baseUrl}/v2/`;
    const anonymous = await call(url);
    assert.equal(anonymous.status, 401);
    assert.match(String(anonymous.headers['www-authenticate']), /^Basic realm=/);
    assert.equal((await call(url, { headers: { authorization: basic(registry.username, `${registry.password}x`) } })).status, 401);
    assert.equal((await call(url, { headers: { authorization: basic(registry.username, registry.password) } })).status, 200);
  });

  void it('token: challenges with its realm and service, and refuses anonymous pulls of private repositories', async () => {
    const registry = registryFor('token');
    await registry.push('private/app', 'v1', 'oci-manifest');
    const url = `${registry.baseUrl}/v2/private/app/manifests/v1`;
    const challenge = await call(url, { method: 'HEAD', headers: { accept: manifestAccept } });
    assert.equal(challenge.status, 401);
    const wwwAuthenticate = String(challenge.headers['www-authenticate']);
    assert.match(wwwAuthenticate, /^Bearer /);
    assert.ok(wwwAuthenticate.includes(`realm="${registry.tokenRealm ?? ''}"`), wwwAuthenticate);
    assert.ok(wwwAuthenticate.includes(`service="${registry.tokenService ?? ''}"`), wwwAuthenticate);
    assert.ok(wwwAuthenticate.includes('scope="repository:private/app:pull"'), wwwAuthenticate);

    const anonymous = await fetchToken(registry, 'repository:private/app:pull');
    assert.equal(anonymous.status, 200, 'the issuer hands out a token without the access');
    assert.equal((await call(url, { method: 'HEAD', headers: { accept: manifestAccept, authorization: bearer(anonymous) } })).status, 401);
  });

  void it('token: grants anonymous pull, and only pull, under public/', async () => {
    const registry = registryFor('token');
    const pushed = await registry.push('public/app', 'v1', 'docker-list');
    const answer = await fetchToken(registry, 'repository:public/app:pull,push');
    assert.equal(answer.status, 200);
    const authorization = bearer(answer);
    const head = await call(`${registry.baseUrl}/v2/public/app/manifests/v1`, { method: 'HEAD', headers: { accept: manifestAccept, authorization } });
    assert.equal(head.status, 200);
    assert.equal(head.headers['docker-content-digest'], pushed);
    const upload = await call(`${registry.baseUrl}/v2/public/app/blobs/uploads/`, { method: 'POST', headers: { authorization } });
    assert.equal(upload.status, 401, 'no push without credentials');
  });

  void it('token: refuses wrong credentials, accepts the refresh token, and records each token request', async () => {
    const registry = registryFor('token');
    assert.ok(registry.username !== undefined && registry.password !== undefined && registry.refreshToken !== undefined);
    assert.ok(registry.tokenRealm !== undefined && registry.tokenService !== undefined);
    await registry.push('private/refresh', 'v1', 'oci-index');
    const seen = registry.tokenRequests().length;

    const wrong = await fetchToken(registry, 'repository:private/refresh:pull', { username: registry.username, password: 'wrong' });
    assert.equal(wrong.status, 401);

    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: registry.refreshToken,
      service: registry.tokenService,
      scope: 'repository:private/refresh:pull',
      client_id: 'tagpin-tests',
    });
    const refreshed = await call(registry.tokenRealm, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    assert.equal(refreshed.status, 200);
    const head = await call(`${registry.baseUrl}/v2/private/refresh/manifests/v1`, {
      method: 'HEAD',
      headers: { accept: manifestAccept, authorization: bearer(refreshed) },
    });
    assert.equal(head.status, 200);

    assert.deepEqual(registry.tokenRequests().slice(seen), [
      { method: 'GET', scope: 'repository:private/refresh:pull', authenticated: true },
      { method: 'POST', scope: 'repository:private/refresh:pull', authenticated: true },
    ]);
  });

  void it('stop() ends the registry process and can be called twice', async () => {
    const registry = await startRegistry('http');
    assert.equal((await call(`${registry.baseUrl}/v2/`)).status, 200);
    await registry.stop();
    await registry.stop();
    await assert.rejects(call(`${registry.baseUrl}/v2/`), /ECONNREFUSED|other side closed|socket/i);
  });
});
