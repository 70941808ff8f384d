// Where credentials go: only to the registry they match and the token realm it names; never across redirects.
// The cache half of the rule (a digest learned with one namespace's credentials is not served to another)
// is proven end to end in test/kube/scoping.test.ts and test/server/pull-secrets.test.ts, and in
// resolve.test.ts "never serves a digest learned with credentials to a request without them".
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { parseDockerConfig } from '../../src/credentials/index.ts';
import type { RegistryError } from '../../src/errors/index.ts';
import { parseReference } from '../../src/reference/index.ts';
import { lookupKit, rejection, soon } from '../support/lookups.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import type { FaultProxy } from '../support/fault-proxy.ts';
import { createPki } from '../support/pki.ts';
import type { Pki } from '../support/pki.ts';
import { portOf } from '../support/ports.ts';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { keyringFor, proxyTo } from '../support/servers.ts';
import type { LocalServer } from '../support/servers.ts';

let pki: Pki;
let basic: TestRegistry;
let plain: TestRegistry;
/** The real registry with the harness token issuer: its realm is on another port than the registry. */
let token: TestRegistry;
/** A pass-through front for `token` (TLS), recording the Authorization header of everything tagpin sends the registry. */
let tokenFront: FaultProxy;

const USER = 'scoped-user';
const PASSWORD = 'scoped-password-7f3a';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

/** Clients for the loopback test servers, all plain HTTP unless the test says otherwise. */
const kit = lookupKit(() => ({ ca: pki.caPem, allow: ['127.0.0.1'], insecure: ['127.0.0.1'] }));
const client = kit.client;
const server = kit.server;

/** Every Authorization header a server saw, in order (undefined for requests without one). */
function authorizations(seen: LocalServer['seen']): ReadonlyArray<IncomingHttpHeaders['authorization']> {
  return seen.map((r) => r.headers.authorization);
}

/** Whether any header or the path of any request carries the secret, plain or in Basic form. */
function leaked(seen: LocalServer['seen']): boolean {
  return seen.some((r) => JSON.stringify(r).includes(PASSWORD) || JSON.stringify(r).includes(BASIC.slice('Basic '.length)));
}

before(async () => {
  pki = await createPki();
  [basic, plain, token] = await Promise.all([startRegistry('basic', { pki }), startRegistry('http'), startRegistry('token', { pki })]);
  await Promise.all([
    basic.push('private/app', 'v1', 'oci-manifest'),
    plain.push('demo/app', 'v1', 'oci-index'),
    token.push('public/app', 'v1', 'oci-manifest'),
    token.push('private/app', 'v1', 'docker-list'),
  ]);
  tokenFront = await startFaultProxy({ upstream: token.baseUrl, upstreamCa: pki.caPem, tls: { pki } });
  kit.onClose(() => tokenFront.close());
});

after(async () => {
  await kit.closeAll();
  await Promise.all([basic.stop(), plain.stop(), token.stop()]);
});

describe('credentials go to the registry they match', () => {
  it('sends a docker config entry only to its own host:port, and nothing to a registry that asks without a match', async () => {
    assert.ok(basic.username !== undefined && basic.password !== undefined);
    const asker = await server((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="give me yours"' }).end();
    });
    const keyring = parseDockerConfig(
      { auths: { [basic.host]: { username: basic.username, password: basic.password }, 'other.example.com': { username: USER, password: PASSWORD } } },
      'test docker config',
    );
    // The Basic registry speaks TLS; the asker plain HTTP on its own port.
    const resolver = client({ insecure: [asker.host] });
    const resolved = await resolver.resolve(parseReference(`${basic.host}/private/app:v1`), { deadline: soon(), keyring });
    assert.equal(resolved.digest, await basic.digest('private/app', 'v1'));

    const error = await rejection(resolver.resolve(parseReference(`${asker.host}/private/app:v1`), { deadline: soon(), keyring }));
    assert.equal(error.message, `unauthorized: no credentials matched ${asker.host}`);
    assert.deepEqual(authorizations(asker.seen), [undefined]);
    assert.equal(leaked(asker.seen), false);
  });

  it('sends no credentials before the registry asks for them', async () => {
    const open = await server(proxyTo(plain.baseUrl, (answer) => answer));
    const keyring = keyringFor(open.host, { username: USER, password: PASSWORD, source: 'test', key: open.host });
    await client().resolve(parseReference(`${open.host}/demo/app:v1`), { deadline: soon(), keyring });
    assert.deepEqual(authorizations(open.seen), [undefined]);
  });
});

describe('credentials go to the token realm the registry names', () => {
  /** The registry's owner login, offered for the front's host (where tagpin sends the lookup). */
  function ownerKeyring(): ReturnType<typeof keyringFor> {
    assert.ok(token.username !== undefined && token.password !== undefined);
    return keyringFor(tokenFront.host, { username: token.username, password: token.password, source: 'test', key: tokenFront.host });
  }
  const tokenClient = (): ReturnType<typeof client> => client({ insecure: [] });

  it('asks the realm on another port anonymously first, and presents no credentials where the anonymous token suffices', async () => {
    const before = { tokens: token.tokenRequests().length, sent: tokenFront.count() };
    const resolved = await tokenClient().resolve(parseReference(`${tokenFront.host}/public/app:v1`), { deadline: soon(), keyring: ownerKeyring() });
    assert.equal(resolved.digest, await token.digest('public/app', 'v1'));
    assert.deepEqual(token.tokenRequests().slice(before.tokens), [{ method: 'GET', scope: 'repository:public/app:pull', authenticated: false }]);
    const sent = tokenFront.requests().slice(before.sent).map((r) => r.authorization?.split(' ')[0]);
    assert.deepEqual(sent, [undefined, 'Bearer']);
  });

  it('sends the registry credentials to its realm on another port when the anonymous token is refused, as the protocol says', async () => {
    const before = { tokens: token.tokenRequests().length, sent: tokenFront.count() };
    const resolved = await tokenClient().resolve(parseReference(`${tokenFront.host}/private/app:v1`), { deadline: soon(), keyring: ownerKeyring() });
    assert.equal(resolved.digest, await token.digest('private/app', 'v1'));
    assert.deepEqual(token.tokenRequests().slice(before.tokens), [
      { method: 'GET', scope: 'repository:private/app:pull', authenticated: false },
      { method: 'GET', scope: 'repository:private/app:pull', authenticated: true },
    ]);
    // The registry itself only ever sees tokens: the login goes to the realm alone.
    const sent = tokenFront.requests().slice(before.sent).map((r) => r.authorization?.split(' ')[0]);
    assert.deepEqual(sent, [undefined, 'Bearer', 'Bearer']);
    assert.ok(tokenFront.requests().every((r) => !JSON.stringify(r).includes(token.password ?? 'never')));
  });

  /** A hostile registry (a proxy to the plain registry) that wants the token its realm grants. */
  async function bearerRegistry(realmUrl: () => string): Promise<LocalServer> {
    const forward = proxyTo(plain.baseUrl, (answer) => answer);
    return server(async (req, res) => {
      if (req.headers.authorization !== 'Bearer from-realm') {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${realmUrl()}",service="scoped"` }).end();
        return;
      }
      await forward(req, res);
    });
  }

  it('sends nothing to a realm that fails the address guard', async () => {
    const realm = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"from-realm"}');
    });
    const realmPort = portOf(realm.host);
    const registry = await bearerRegistry(() => `http://realm.scoped.test:${realmPort}/token`);
    const keyring = keyringFor(registry.host, { username: USER, password: PASSWORD, source: 'test', key: registry.host });
    // Only the registry is listed; the realm's name maps to loopback, which nothing opens for it.
    const resolver = client({
      allow: [registry.host],
      insecure: [registry.host],
      lookup: (hostname) => Promise.resolve(hostname === 'realm.scoped.test' ? [{ address: '127.0.0.1', family: 4 }] : []),
    });
    const error = await rejection(resolver.resolve(parseReference(`${registry.host}/demo/app:v1`), { deadline: soon(), keyring }));
    assert.equal(error.code, 'REGISTRY_FORBIDDEN_ADDRESS');
    assert.equal(realm.seen.length, 0);
  });

  // An http realm named by an HTTPS registry is refused outright: transport.test.ts "refuses a plain-HTTP token realm".

  it('drops the Basic header when the realm redirects the grant to another origin', async () => {
    const elsewhere = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"from-realm"}');
    });
    const realm = await server((req, res) => {
      if (req.headers.authorization === undefined) res.writeHead(401).end();
      else res.writeHead(307, { location: `http://${elsewhere.host}${req.url ?? ''}` }).end();
    });
    const registry = await bearerRegistry(() => `http://${realm.host}/token`);
    const keyring = keyringFor(registry.host, { username: USER, password: PASSWORD, source: 'test', key: registry.host });
    await client().resolve(parseReference(`${registry.host}/demo/app:v1`), { deadline: soon(), keyring });
    assert.deepEqual(authorizations(realm.seen), [undefined, BASIC]);
    assert.deepEqual(authorizations(elsewhere.seen), [undefined]);
    assert.equal(leaked(elsewhere.seen), false);
  });

  it('refuses to follow an identity-token grant redirected to another origin, so the refresh token stays home', async () => {
    const elsewhere = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"from-realm"}');
    });
    const realm = await server((req, res) => {
      if (req.method === 'POST') res.writeHead(307, { location: `http://${elsewhere.host}/token` }).end();
      else res.writeHead(401).end();
    });
    const registry = await bearerRegistry(() => `http://${realm.host}/token`);
    const keyring = keyringFor(registry.host, { identityToken: 'refresh-secret', source: 'docker config', key: registry.host });
    const error = await rejection(client().resolve(parseReference(`${registry.host}/demo/app:v1`), { deadline: soon(), keyring }));
    assert.equal(error.code, 'REGISTRY_REDIRECT');
    assert.equal(error.message, `${realm.host} redirected a token exchange to ${elsewhere.host}; credentials are not sent to another origin`);
    assert.equal(elsewhere.seen.length, 0);
  });
});

describe('credentials never cross a redirect', () => {
  it('drops Basic credentials when the registry redirects to another port of the same host', async () => {
    const target = await server(proxyTo(plain.baseUrl, (answer) => answer));
    const source = await server((req, res) => {
      if (req.headers.authorization !== BASIC) res.writeHead(401, { 'www-authenticate': 'Basic realm="source"' }).end();
      else res.writeHead(307, { location: `http://${target.host}${req.url ?? ''}` }).end();
    });
    const keyring = keyringFor(source.host, { username: USER, password: PASSWORD, source: 'test', key: source.host });
    const resolved = await client().resolve(parseReference(`${source.host}/demo/app:v1`), { deadline: soon(), keyring });
    assert.equal(resolved.digest, await plain.digest('demo/app', 'v1'));
    assert.deepEqual(authorizations(target.seen), [undefined]);
  });

  it('drops a Bearer token at a redirect, and sends neither credentials nor the realm a request when the target asks', async () => {
    const realm = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"source-token"}');
    });
    const otherRealm = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"stolen"}');
    });
    // The redirect target behaves like a registry of its own, asking for credentials at its own realm.
    const target = await server((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${otherRealm.host}/token",service="target"` }).end();
    });
    const source = await server((req, res) => {
      if (req.headers.authorization !== 'Bearer source-token') {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${realm.host}/token",service="source"` }).end();
      } else {
        res.writeHead(307, { location: `http://${target.host}${req.url ?? ''}` }).end();
      }
    });
    const keyring = keyringFor(source.host, { username: USER, password: PASSWORD, source: 'test', key: source.host });
    const error = await rejection(client().resolve(parseReference(`${source.host}/demo/app:v1`), { deadline: soon(), keyring }));
    assert.equal(error.code, 'REGISTRY_UNAUTHORIZED');
    assert.equal(
      error.message,
      `unauthorized: ${source.host} redirected to ${target.host}, which answered 401 Unauthorized; credentials for ${source.host} are not sent to another host`,
    );
    assert.deepEqual(authorizations(target.seen), [undefined]);
    assert.equal(otherRealm.seen.length, 0);
    assert.equal(leaked(target.seen), false);
  });
});

describe('credentials and shared work', () => {
  it('never lets a lookup without credentials join one that has them', async () => {
    assert.ok(basic.username !== undefined && basic.password !== undefined);
    const owner = keyringFor(basic.host, { username: basic.username, password: basic.password, source: 'secret team-a/regcred', key: basic.host });
    const resolver = client({ insecure: [] });
    const ref = parseReference(`${basic.host}/private/app:v1`);
    const [withSecret, without] = await Promise.allSettled([
      resolver.resolve(ref, { deadline: soon(), keyring: owner }),
      resolver.resolve(ref, { deadline: soon() }),
    ]);
    assert.equal(withSecret.status, 'fulfilled');
    assert.equal(withSecret.value.digest, await basic.digest('private/app', 'v1'));
    assert.equal(without.status, 'rejected');
    assert.equal((without.reason as RegistryError).code, 'REGISTRY_UNAUTHORIZED');
  });
});
