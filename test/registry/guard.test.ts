// The address guard on real connections: names mapped by a test resolver to loopback, private and metadata addresses.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { parseReference } from '../../src/reference/index.ts';
import { lookupKit, rejection, soon } from '../support/lookups.ts';
import { createPki } from '../support/pki.ts';
import type { Pki } from '../support/pki.ts';
import { portOf } from '../support/ports.ts';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { proxyTo } from '../support/servers.ts';

let pki: Pki;
let plain: TestRegistry;
let secure: TestRegistry;
let plainPort: string;
let securePort: string;

/** Test DNS: every name the suite uses, and what it answers; `answers` may change between queries. */
const answers = new Map<string, readonly LookupAddress[]>();
const asked: string[] = [];
async function testResolver(hostname: string): Promise<readonly LookupAddress[]> {
  asked.push(hostname);
  const found = answers.get(hostname);
  if (found === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return Promise.resolve(found);
}
const v4 = (address: string): readonly LookupAddress[] => [{ address, family: 4 }];
const v6 = (address: string): readonly LookupAddress[] => [{ address, family: 6 }];
answers.set('registry.inside.test', v4('127.0.0.1'));
answers.set('mapped.inside.test', v6('::ffff:127.0.0.1'));
answers.set('ten.inside.test', v4('10.11.12.13'));
answers.set('cgnat.inside.test', v4('100.64.1.2'));
answers.set('ula.inside.test', v6('fd12::1'));
answers.set('zero.inside.test', v4('0.0.0.0'));
answers.set('localhost', v4('127.0.0.1'));

const kit = lookupKit(() => ({ lookup: testResolver, ca: pki.caPem }));
const client = kit.client;
const server = kit.server;

before(async () => {
  pki = await createPki();
  [plain, secure] = await Promise.all([startRegistry('http'), startRegistry('tls', { pki })]);
  await Promise.all([plain.push('demo/app', 'v1', 'oci-manifest'), secure.push('demo/app', 'v1', 'docker-list')]);
  plainPort = portOf(plain.host);
  securePort = portOf(secure.host);
});

after(async () => {
  await kit.closeAll();
  await Promise.all([plain.stop(), secure.stop()]);
});

describe('loopback and private addresses', () => {
  for (const name of ['registry.inside.test', 'mapped.inside.test', 'ten.inside.test', 'cgnat.inside.test', 'ula.inside.test', 'zero.inside.test']) {
    it(`refuses ${name} (${answers.get(name)?.[0]?.address ?? 'unknown'}) when no list names it, before sending anything`, async () => {
      const before = plain.requests().length;
      const error = await rejection(client().resolve(parseReference(`${name}:${plainPort}/demo/app:v1`), { deadline: soon() }));
      assert.equal(error.code, 'REGISTRY_FORBIDDEN_ADDRESS');
      assert.match(error.message, new RegExp(`^refusing to contact ${name}:${plainPort}: it resolves to \\S+, a loopback or private address \\(list it in registries\\.privateHosts \\(chart value config\\.registries\\.privateHosts\\) to trust it\\)$`));
      assert.ok(asked.includes(name));
      assert.deepEqual(plain.requests().slice(before), []);
    });
  }

  it('refuses loopback literals, IPv4-mapped ones and localhost without a lookup', async () => {
    const resolver = client();
    for (const host of [`127.0.0.1:${plainPort}`, `[::1]:${plainPort}`, `[::ffff:7f00:1]:${plainPort}`, `localhost:${plainPort}`]) {
      const error = await rejection(resolver.resolve(parseReference(`${host}/demo/app:v1`), { deadline: soon() }));
      assert.equal(error.code, 'REGISTRY_FORBIDDEN_ADDRESS', host);
      assert.match(error.message, /is a loopback or private address \(list it in registries\.privateHosts \(chart value config\.registries\.privateHosts\) to trust it\)$/);
    }
  });

  it('reaches a private registry listed in registries.insecure', async () => {
    const host = `registry.inside.test:${plainPort}`;
    const resolved = await client({ insecure: [host] }).resolve(parseReference(`${host}/demo/app:v1`), { deadline: soon() });
    assert.equal(resolved.digest, await plain.digest('demo/app', 'v1'));
  });

  it('reaches a private HTTPS registry listed in registries.allow, on any port when the glob names none', async () => {
    const image = `localhost:${securePort}/demo/app:v1`;
    const resolved = await client({ allow: ['localhost'] }).resolve(parseReference(image), { deadline: soon() });
    assert.equal(resolved.digest, await secure.digest('demo/app', 'v1'));
  });

  it('reaches a private HTTPS registry listed in registries.privateHosts, and still contacts any other registry', async () => {
    // localhost: the name the test registry's certificate carries.
    const image = `localhost:${securePort}/demo/app:v1`;
    const resolver = client({ privateHosts: ['localhost'] });
    const resolved = await resolver.resolve(parseReference(image), { deadline: soon() });
    assert.equal(resolved.digest, await secure.digest('demo/app', 'v1'));
    // Unlike allow, privateHosts is no allow list: an unlisted registry is still tried (and here refused
    // only because it, too, is on loopback).
    const other = await rejection(resolver.resolve(parseReference(`127.0.0.1:${securePort}/demo/app:v1`), { deadline: soon() }));
    assert.equal(other.code, 'REGISTRY_FORBIDDEN_ADDRESS');
  });

  it('does not let privateHosts open link-local or metadata addresses', async () => {
    answers.set('meta.inside.test', v4('169.254.169.254'));
    const error = await rejection(client({ privateHosts: ['*.inside.test'] }).resolve(parseReference(`meta.inside.test:${plainPort}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_FORBIDDEN_ADDRESS');
    assert.match(error.message, /link-local or cloud metadata address \(list it in registries\.allow/);
  });

  it('opens only the port a listing names', async () => {
    const error = await rejection(
      client({ allow: ['*.inside.test'], insecure: [`registry.inside.test:1`] }).resolve(parseReference(`registry.inside.test:${plainPort}/demo/app:v1`), {
        deadline: soon(),
      }),
    );
    // allow opens the host (any port) but plain HTTP was listed for port 1 only: the registry is tried over TLS.
    assert.equal(error.code, 'REGISTRY_TLS');
  });

  it('does not let insecure open link-local or metadata addresses', async () => {
    answers.set('metadata.inside.test', v4('169.254.169.254'));
    const host = `metadata.inside.test:${plainPort}`;
    const error = await rejection(client({ insecure: [host] }).resolve(parseReference(`${host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.message, `refusing to contact ${host}: it resolves to 169.254.169.254, a link-local or cloud metadata address (list it in registries.allow (chart value config.registries.allow; tagpin then contacts only the listed registries) to trust it)`);
  });

  it('refuses a redirect to a private name the lists do not cover', async () => {
    const redirector = await server((req, res) => {
      res.writeHead(307, { location: `https://ten.inside.test:${plainPort}${req.url ?? ''}` }).end();
    });
    const error = await rejection(client({ insecure: [redirector.host] }).resolve(parseReference(`${redirector.host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_FORBIDDEN_ADDRESS');
    assert.match(error.message, new RegExp(`^refusing to contact ten\\.inside\\.test:${plainPort}: it resolves to 10\\.11\\.12\\.13`));
  });

  it('refuses a token realm on loopback that the lists do not cover, so it never sees a request', async () => {
    const realm = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"t"}');
    });
    const realmPort = portOf(realm.host);
    const registry = await server((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://registry.inside.test:${realmPort}/token",service="x"` }).end();
    });
    const error = await rejection(client({ insecure: [registry.host] }).resolve(parseReference(`${registry.host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_FORBIDDEN_ADDRESS');
    assert.match(error.message, new RegExp(`^refusing to contact registry\\.inside\\.test:${realmPort}: it resolves to 127\\.0\\.0\\.1`));
    assert.equal(realm.seen.length, 0);
  });
});

describe('DNS rebinding', () => {
  it('checks the address of every new connection, so a name that later answers a metadata address is refused', async () => {
    // The proxy closes every connection, so each lookup of the name happens again at connect time.
    const forward = proxyTo(plain.baseUrl, (answer) => ({ ...answer, headers: { ...answer.headers, connection: 'close' } }));
    const proxy = await server(async (req, res) => {
      res.shouldKeepAlive = false;
      await forward(req, res);
    });
    const proxyPort = portOf(proxy.host);
    const host = `rebind.inside.test:${proxyPort}`;
    answers.set('rebind.inside.test', v4('127.0.0.1'));
    await plain.push('demo/app', 'v2', 'oci-manifest');
    const resolver = client({ insecure: [host] });
    const first = await resolver.resolve(parseReference(`${host}/demo/app:v1`), { deadline: soon() });
    assert.equal(first.digest, await plain.digest('demo/app', 'v1'));

    answers.set('rebind.inside.test', v4('169.254.169.254'));
    const seen = proxy.seen.length;
    const error = await rejection(resolver.resolve(parseReference(`${host}/demo/app:v2`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_FORBIDDEN_ADDRESS');
    assert.match(error.message, /it resolves to 169\.254\.169\.254/);
    assert.equal(proxy.seen.length, seen);
  });
});
