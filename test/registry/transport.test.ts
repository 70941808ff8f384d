// How the client talks to registries: schemes, TLS, redirects, the address guard, deadlines and odd answers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { LookupAddress } from 'node:dns';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseReference } from '../../src/reference/index.ts';
import type { Resolver } from '../../src/registry/index.ts';
import { lookupKit, rejection, soon } from '../support/lookups.ts';
import { createPki } from '../support/pki.ts';
import type { Pki } from '../support/pki.ts';
import { closedHost, listen, portOf } from '../support/ports.ts';
import { manifestMediaTypes, settledHandshakeErrors, startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { keyringFor, proxyTo } from '../support/servers.ts';
import type { LocalServer, Upstream } from '../support/servers.ts';
import { eventually } from '../support/wait.ts';

let pki: Pki;
let plain: TestRegistry;
let secure: TestRegistry;
/** Clients may contact the loopback test servers unless a test sets its own allow list; all closed after the suite. */
const kit = lookupKit(() => ({ allow: ['127.0.0.1'] }));
const client = kit.client;
const server = kit.server;

/** A lookup that knows a few invented names and fails the rest as DNS would. */
function fakeDns(table: Readonly<Record<string, readonly LookupAddress[]>>): (hostname: string) => Promise<readonly LookupAddress[]> {
  return (hostname) => {
    const found = table[hostname];
    if (found !== undefined) return Promise.resolve(found);
    return Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname }));
  };
}

before(async () => {
  pki = await createPki();
  [plain, secure] = await Promise.all([startRegistry('http'), startRegistry('tls', { pki })]);
  await Promise.all([plain.push('demo/app', 'v1', 'oci-index'), secure.push('demo/app', 'v1', 'oci-manifest')]);
});

after(async () => {
  await kit.closeAll();
  await Promise.all([plain.stop(), secure.stop()]);
});

describe('schemes and TLS', () => {
  it('speaks HTTPS to a registry that is not listed insecure, even when it only speaks HTTP, and says how to list it', async () => {
    const error = await rejection(client().resolve(parseReference(`${plain.host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_TLS');
    assert.equal(error.message, `${plain.host} speaks plain HTTP; list it in registries.insecure (chart value config.registries.insecure)`);
  });

  it('speaks plain HTTP to a listed host, with or without its port', async () => {
    for (const insecure of [plain.host, '127.0.0.1']) {
      const resolved = await client({ insecure: [insecure] }).resolve(parseReference(`${plain.host}/demo/app:v1`), { deadline: soon() });
      assert.equal(resolved.digest, await plain.digest('demo/app', 'v1'));
    }
  });

  it('says the certificate is not trusted and how to trust it when the CA is unknown, having sent no request', async () => {
    const before = { requests: secure.requests().length, handshakes: (await settledHandshakeErrors(secure)).length };
    const error = await rejection(client().resolve(parseReference(`${secure.host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_TLS');
    assert.equal(
      error.message,
      `the certificate of ${secure.host} is signed by an unknown authority; trust its CA with registries.caFile (chart value config.registries.caFile)`,
    );
    assert.equal((error.cause as NodeJS.ErrnoException | undefined)?.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    // One handshake broke off at the registry (a TLS error is final: no retry), and no request got through.
    assert.equal((await settledHandshakeErrors(secure)).length, before.handshakes + 1);
    assert.deepEqual(secure.requests().slice(before.requests), []);
  });

  it('trusts the configured CA on top of the system roots', async () => {
    const resolved = await client({ ca: pki.caPem }).resolve(parseReference(`${secure.host}/demo/app:v1`), { deadline: soon() });
    assert.equal(resolved.digest, await secure.digest('demo/app', 'v1'));
  });
});

describe('unreachable registries', () => {
  it('says the host cannot be resolved, without touching the network', async () => {
    const resolver = client({ allow: [], lookup: fakeDns({}) });
    const error = await rejection(resolver.resolve(parseReference('nonexistent.invalid/demo/app:v1'), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_NETWORK');
    assert.equal(error.message, 'cannot resolve host nonexistent.invalid');
    assert.equal(error.registry, 'nonexistent.invalid');
  });

  it('says the connection was refused after its retries, and reports each exchange with status 0', async () => {
    const host = `nonexistent.invalid:${portOf(await closedHost())}`;
    const events: Array<{ registry: string; method: string; status: number }> = [];
    const retries: number[] = [];
    const resolver = client({
      allow: [],
      insecure: [host],
      lookup: fakeDns({ 'nonexistent.invalid': [{ address: '127.0.0.1', family: 4 }] }),
      observer: { onRequest: (event) => events.push({ ...event }), onRetry: (event) => retries.push(event.status) },
    });
    const error = await rejection(resolver.resolve(parseReference(`${host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.message, `cannot connect to ${host}: connection refused`);
    assert.deepEqual(events, Array.from({ length: 3 }, () => ({ registry: host, method: 'HEAD', status: 0 })));
    assert.deepEqual(retries, [0, 0]);
  });
});

describe('redirects', () => {
  it('follows redirects by hand and drops Authorization when the origin changes', async () => {
    const password = 'redirect-secret';
    const basic = `Basic ${Buffer.from(`user:${password}`).toString('base64')}`;
    const second = await server((req, res) => {
      res.writeHead(307, { location: `http://${plain.host}${req.url ?? ''}` }).end();
    });
    const first = await server((req, res) => {
      if (req.headers.authorization !== basic) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="first"' }).end();
      } else if (req.url?.startsWith('/moved/') === true) {
        res.writeHead(308, { location: `http://${second.host}${req.url.slice('/moved'.length)}` }).end();
      } else {
        res.writeHead(307, { location: `/moved${req.url ?? ''}` }).end();
      }
    });
    const resolver = client({ insecure: [first.host, second.host, plain.host] });
    const keyring = keyringFor(first.host, { username: 'user', password, source: 'test config', key: first.host });
    const resolved = await resolver.resolve(parseReference(`${first.host}/demo/app:v1`), { deadline: soon(), keyring });

    assert.equal(resolved.digest, await plain.digest('demo/app', 'v1'));
    assert.deepEqual(
      first.seen.map((r) => [r.path, r.headers.authorization !== undefined]),
      [
        ['/v2/demo/app/manifests/v1', false],
        ['/v2/demo/app/manifests/v1', true],
        ['/moved/v2/demo/app/manifests/v1', true],
      ],
    );
    assert.deepEqual(second.seen.map((r) => [r.method, r.headers.authorization]), [['HEAD', undefined]]);
  });

  it('gives up after five redirects', async () => {
    const loop = await server((req, res) => {
      res.writeHead(302, { location: req.url ?? '/' }).end();
    });
    const error = await rejection(client({ insecure: [loop.host] }).resolve(parseReference(`${loop.host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_REDIRECT');
    assert.match(error.message, /too many redirects/);
    assert.equal(loop.seen.length, 6);
  });

  it('refuses to follow a redirect from HTTPS down to plain HTTP', async () => {
    const downgrade = await startHttps((_req, res) => {
      res.writeHead(301, { location: `http://${plain.host}/v2/demo/app/manifests/v1` }).end();
    });
    const before = plain.manifestRequests().length;
    const error = await rejection(client({ ca: pki.caPem }).resolve(parseReference(`${downgrade}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_PLAIN_HTTP_REFUSED', 'a refusal by policy, not a network failure');
    assert.match(error.message, new RegExp(`^refusing plain HTTP to ${plain.host}`));
    assert.equal(plain.manifestRequests().length, before, 'the plain-HTTP registry was never contacted');
  });
});

/** An HTTPS server with a certificate from the test CA; closed after the suite. */
async function startHttps(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const leaf = await pki.issue(`fake-${randomBytes(4).toString('hex')}`, []);
  const https = createHttpsServer({ key: await readFile(leaf.keyFile), cert: await readFile(leaf.certFile) }, handle);
  const { port } = await listen(https);
  kit.onClose(
    () =>
      new Promise<void>((resolve) => {
        https.closeAllConnections();
        https.close(() => { resolve(); });
      }),
  );
  return `127.0.0.1:${String(port)}`;
}

describe('address guard and allow list', () => {
  it('refuses a metadata address literal without contacting it', async () => {
    const events: unknown[] = [];
    const resolver = client({ allow: [], observer: { onRequest: (event) => events.push(event) } });
    const error = await rejection(resolver.resolve(parseReference('169.254.169.254/latest/meta-data:v1'), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_FORBIDDEN_ADDRESS');
    assert.match(error.message, /^refusing to contact 169\.254\.169\.254: .*registries\.allow/);
    assert.deepEqual(events, []);
  });

  for (const address of ['169.254.169.254', 'fe80::1', 'fd00:ec2::254', '100.100.100.200']) {
    it(`refuses a name that resolves to ${address}, checked inside the connection's lookup`, async () => {
      const resolver = client({ allow: [], lookup: fakeDns({ 'sneaky.test': [{ address, family: address.includes(':') ? 6 : 4 }] }) });
      const error = await rejection(resolver.resolve(parseReference('sneaky.test/demo/app:v1'), { deadline: soon() }));
      assert.equal(error.code, 'REGISTRY_FORBIDDEN_ADDRESS');
      assert.equal(error.message, `refusing to contact sneaky.test: it resolves to ${address}, a link-local or cloud metadata address (list it in registries.allow (chart value config.registries.allow; tagpin then contacts only the listed registries) to trust it)`);
    });
  }

  it('refuses a token realm that points at the metadata service', async () => {
    const evil = await server((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="http://169.254.169.254/latest/meta-data",service="x"' }).end();
    });
    const error = await rejection(client({ insecure: [evil.host] }).resolve(parseReference(`${evil.host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_FORBIDDEN_ADDRESS');
  });

  it('refuses a plain-HTTP token realm named by an HTTPS registry', async () => {
    const host = await startHttps((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${plain.host}/token",service="x"` }).end();
    });
    const error = await rejection(client({ ca: pki.caPem, insecure: [plain.host] }).resolve(parseReference(`${host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_TOKEN');
    assert.equal(error.message, `registry ${host} named token realm http://${plain.host}, which is not HTTPS`);
  });

  it('contacts no registry outside a non-empty allow list', async () => {
    const events: unknown[] = [];
    const before = plain.requests().length;
    const resolver = client({ insecure: [plain.host], allow: ['*.example.com'], observer: { onRequest: (e) => events.push(e) } });
    const error = await rejection(resolver.resolve(parseReference(`${plain.host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_NOT_ALLOWED');
    assert.equal(error.message, `registry ${plain.host} is not listed in registries.allow (chart value config.registries.allow), so it is not contacted`);
    assert.deepEqual(events, []);
    assert.deepEqual(plain.requests().slice(before), []);
  });

  it('contacts a registry the allow list matches', async () => {
    const resolver = client({ insecure: [plain.host], allow: ['127.0.0.*:*'] });
    const resolved = await resolver.resolve(parseReference(`${plain.host}/demo/app:v1`), { deadline: soon() });
    assert.equal(resolved.digest, await plain.digest('demo/app', 'v1'));
  });
});

describe('deadlines', () => {
  it('fails a lookup at its deadline when the registry never answers', async () => {
    const stall = await server(() => undefined);
    const resolver = client({ insecure: [stall.host] });
    const error = await rejection(resolver.resolve(parseReference(`${stall.host}/demo/app:v1`), { deadline: soon(300) }));
    assert.equal(error.code, 'REGISTRY_TIMEOUT');
    assert.match(error.message, new RegExp(`^timed out after \\d+ ms looking up ${stall.host}/demo/app:v1$`));
  });

  it('stops when the caller cancels', async () => {
    const stall = await server(() => undefined);
    const controller = new AbortController();
    const pending = client({ insecure: [stall.host] }).resolve(parseReference(`${stall.host}/demo/app:v1`), { deadline: soon(), signal: controller.signal });
    await eventually(() => stall.seen.length > 0, 'the lookup to reach the registry');
    controller.abort();
    const error = await rejection(pending);
    assert.equal(error.message, `lookup of ${stall.host}/demo/app:v1 was cancelled`);
  });

  it('lets a patient caller finish a shared lookup after an impatient one gave up', async () => {
    const forward = proxyTo(`http://${plain.host}`, (answer) => answer);
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    // Holds every request until the impatient caller has given up.
    const held = await server(async (req, res) => {
      await released;
      await forward(req, res);
    });
    const resolver = client({ insecure: [held.host] });
    const ref = parseReference(`${held.host}/demo/app:v1`);
    const impatient = resolver.resolve(ref, { deadline: soon(50) });
    const patient = resolver.resolve(ref, { deadline: soon() });
    assert.equal((await rejection(impatient)).code, 'REGISTRY_TIMEOUT');
    release();
    const resolved = await patient;
    assert.equal(resolved.source, 'coalesced');
    assert.equal(resolved.digest, await plain.digest('demo/app', 'v1'));
  });
});

describe('answers that need a closer look (real registry behind a rewriting proxy)', () => {
  async function through(
    rewrite: (answer: Upstream, method: string, path: string) => Upstream,
  ): Promise<{ host: string; resolver: Resolver; proxy: LocalServer }> {
    const proxy = await server(proxyTo(`http://${plain.host}`, rewrite));
    return { host: proxy.host, resolver: client({ insecure: [proxy.host] }), proxy };
  }

  function withoutDigest(answer: Upstream): Upstream {
    const headers = { ...answer.headers };
    delete headers['docker-content-digest'];
    return { ...answer, headers };
  }

  it('hashes the exact bytes of a GET when no Docker-Content-Digest comes, and confirms them with one HEAD by digest', async () => {
    await plain.push('demo/nodigest', 'v1', 'docker-list');
    const digest = await plain.digest('demo/nodigest', 'v1');
    const before = plain.manifestRequests().length;
    const { host, resolver } = await through(withoutDigest);
    const resolved = await resolver.resolve(parseReference(`${host}/demo/nodigest:v1`), { deadline: soon() });
    assert.equal(resolved.digest, digest);
    assert.equal(resolved.mediaType, manifestMediaTypes['docker-list']);
    assert.deepEqual(
      plain.manifestRequests().slice(before).map((r) => `${r.method} ${r.path} ${String(r.status)}`),
      [
        'HEAD /v2/demo/nodigest/manifests/v1 200',
        'GET /v2/demo/nodigest/manifests/v1 200',
        `HEAD /v2/demo/nodigest/manifests/${digest} 200`,
      ],
    );
  });

  it('refuses a body altered in transit that no Docker-Content-Digest vouches for, naming the image, the registry and the digest it does not know', async () => {
    const { host, resolver, proxy } = await through((answer, method, path) =>
      method === 'GET' && path.endsWith('/manifests/v1') ? { ...withoutDigest(answer), body: alterOneHexDigit(answer.body) } : withoutDigest(answer),
    );
    const error = await rejection(resolver.resolve(parseReference(`${host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_DIGEST_MISMATCH');
    assert.equal(error.image, `${host}/demo/app:v1`);
    assert.equal(error.registry, host);
    assert.match(
      error.message,
      new RegExp(`^manifest for ${host}/demo/app:v1 from ${host} hashes to sha256:[a-f0-9]{64}, which the registry does not know \\(body altered in transit\\?\\)$`),
    );
    const asked = proxy.seen.map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(asked.slice(0, 2), ['HEAD /v2/demo/app/manifests/v1', 'GET /v2/demo/app/manifests/v1']);
    assert.match(asked[2] ?? '', /^HEAD \/v2\/demo\/app\/manifests\/sha256:[a-f0-9]{64}$/);
    assert.ok(!(asked[2] ?? '').endsWith(await plain.digest('demo/app', 'v1')), 'the digest asked about is that of the altered bytes');
    assert.equal(asked.length, 3, 'a 404 is final: no retry');
  });

  it('refuses a confirmation whose Docker-Content-Digest names other content', async () => {
    await plain.push('demo/other', 'v1', 'oci-manifest');
    const other = await plain.digest('demo/other', 'v1');
    const { host, resolver } = await through((answer, _method, path) =>
      path.includes('/manifests/sha256:') ? { ...answer, headers: { ...answer.headers, 'docker-content-digest': other } } : withoutDigest(answer),
    );
    const error = await rejection(resolver.resolve(parseReference(`${host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_DIGEST_MISMATCH');
    assert.match(error.message, new RegExp(`^manifest for ${host}/demo/app:v1 from ${host} hashes to sha256:[a-f0-9]{64}, but the registry answers that digest with Docker-Content-Digest ${other}$`));
  });

  it('fails like any lookup when the confirmation fails, after its retries', async () => {
    const { host, resolver, proxy } = await through((answer, _method, path) =>
      path.includes('/manifests/sha256:') ? { status: 503, headers: {}, body: Buffer.alloc(0) } : withoutDigest(answer),
    );
    const error = await rejection(resolver.resolve(parseReference(`${host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_UNAVAILABLE');
    assert.equal(error.message, `registry ${host} answered 503 Service Unavailable`);
    assert.equal(proxy.seen.filter((r) => r.path.includes('/manifests/sha256:')).length, 3);
  });

  it('falls back to GET when HEAD is not supported', async () => {
    const { host, resolver } = await through((answer, method) => (method === 'HEAD' ? { status: 405, headers: {}, body: Buffer.alloc(0) } : answer));
    const resolved = await resolver.resolve(parseReference(`${host}/demo/app:v1`), { deadline: soon() });
    assert.equal(resolved.digest, await plain.digest('demo/app', 'v1'));
  });

  it('confirms with GET by digest when HEAD is not supported and no Docker-Content-Digest comes', async () => {
    const digest = await plain.digest('demo/app', 'v1');
    const { host, resolver, proxy } = await through((answer, method) =>
      method === 'HEAD' ? { status: 405, headers: {}, body: Buffer.alloc(0) } : withoutDigest(answer),
    );
    const resolved = await resolver.resolve(parseReference(`${host}/demo/app:v1`), { deadline: soon() });
    assert.equal(resolved.digest, digest);
    assert.deepEqual(
      proxy.seen.map((r) => `${r.method} ${r.path}`),
      ['HEAD /v2/demo/app/manifests/v1', 'GET /v2/demo/app/manifests/v1', `GET /v2/demo/app/manifests/${digest}`],
    );
  });

  it('refuses an altered body by GET by digest when HEAD is not supported', async () => {
    const { host, resolver } = await through((answer, method, path) => {
      if (method === 'HEAD') return { status: 405, headers: {}, body: Buffer.alloc(0) };
      return path.endsWith('/manifests/v1') ? { ...withoutDigest(answer), body: alterOneHexDigit(answer.body) } : withoutDigest(answer);
    });
    const error = await rejection(resolver.resolve(parseReference(`${host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_DIGEST_MISMATCH');
    assert.match(error.message, /which the registry does not know \(body altered in transit\?\)$/);
  });

  it('refuses a body that does not match its Docker-Content-Digest', async () => {
    const { host, resolver } = await through((answer, method) =>
      method === 'HEAD' ? withoutDigest(answer) : { ...answer, body: Buffer.concat([answer.body, Buffer.from('\n')]) },
    );
    const error = await rejection(resolver.resolve(parseReference(`${host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_DIGEST_MISMATCH');
    assert.match(error.message, new RegExp(`^registry ${host} sent Docker-Content-Digest sha256:[a-f0-9]{64} for ${host}/demo/app:v1 but the manifest hashes to sha256:[a-f0-9]{64}$`));
  });

  it('refuses a malformed Docker-Content-Digest', async () => {
    const { host, resolver } = await through((answer) => ({ ...answer, headers: { ...answer.headers, 'docker-content-digest': 'sha256:NOT-HEX' } }));
    const error = await rejection(resolver.resolve(parseReference(`${host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_BAD_RESPONSE');
    assert.match(error.message, /invalid Docker-Content-Digest/);
  });

  it('refuses a malformed Docker-Content-Digest on a GET body or on the confirmation, leaving no stray error behind', async () => {
    const onGet = await through((answer, method) =>
      method === 'HEAD' ? { status: 405, headers: {}, body: Buffer.alloc(0) } : { ...answer, headers: { ...answer.headers, 'docker-content-digest': 'sha256:NOT-HEX' } },
    );
    const onConfirm = await through((answer, _method, path) =>
      path.includes('/manifests/sha256:') ? { ...answer, headers: { ...answer.headers, 'docker-content-digest': 'sha256:NOT-HEX' } } : withoutDigest(answer),
    );
    for (const { host, resolver } of [onGet, onConfirm]) {
      const error = await rejection(resolver.resolve(parseReference(`${host}/demo/app:v1`), { deadline: soon() }));
      assert.equal(error.code, 'REGISTRY_BAD_RESPONSE');
      assert.equal(error.message, `registry ${host} sent an invalid Docker-Content-Digest for demo/app:v1`);
    }
  });

  it('refuses schema1 manifests', async () => {
    const { host, resolver } = await through((answer) => ({ ...answer, headers: { ...answer.headers, 'content-type': 'text/plain; charset=utf-8' } }));
    const error = await rejection(resolver.resolve(parseReference(`${host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_UNSUPPORTED_MANIFEST');
    assert.equal(error.message, `${host}/demo/app:v1 is a schema1 manifest (text/plain), which cannot be pinned; push it again with a current client`);
  });

  it('refuses a manifest whose mediaType differs from its Content-Type', async () => {
    const { host, resolver } = await through((answer, method) =>
      method === 'HEAD' ? withoutDigest(answer) : { ...answer, headers: { ...answer.headers, 'content-type': manifestMediaTypes['docker-list'] } },
    );
    const error = await rejection(resolver.resolve(parseReference(`${host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_BAD_RESPONSE');
    assert.match(error.message, /mediaType application\/vnd\.oci\.image\.index\.v1\+json but Content-Type is application\/vnd\.docker/);
  });

  it('refuses a manifest larger than 4 MiB', async () => {
    const { host, resolver } = await through((answer, method) =>
      method === 'HEAD' ? withoutDigest(answer) : { ...withoutDigest(answer), body: Buffer.alloc(4 * 1024 * 1024 + 1, 0x20) },
    );
    const error = await rejection(resolver.resolve(parseReference(`${host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_MANIFEST_TOO_LARGE');
    assert.equal(error.message, `manifest larger than 4 MiB for ${host}/demo/app:v1`);
  });

  it('reports rate limiting with the wait the registry asked for', async () => {
    const { host, resolver } = await through(() => ({ status: 429, headers: { 'retry-after': '30' }, body: Buffer.alloc(0) }));
    const error = await rejection(resolver.resolve(parseReference(`${host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_RATE_LIMITED');
    assert.equal(error.message, `rate limited by ${host}, retry after 30 s`);
    assert.equal(error.retryAfterSeconds, 30);
    assert.equal(error.status, 429);
  });

  it('reports a registry that is down with its status', async () => {
    const { host, resolver } = await through(() => ({ status: 503, headers: {}, body: Buffer.alloc(0) }));
    const error = await rejection(resolver.resolve(parseReference(`${host}/demo/app:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_UNAVAILABLE');
    assert.equal(error.message, `registry ${host} answered 503 Service Unavailable`);
  });
});

/** The body with the first hex digit after `sha256:` changed: still a valid manifest, but other bytes. */
function alterOneHexDigit(body: Buffer): Buffer {
  const text = body.toString('utf8');
  const at = text.indexOf('sha256:') + 'sha256:'.length;
  assert.ok(at >= 'sha256:'.length, 'the manifest names a digest');
  const digit = text[at] === '0' ? '1' : '0';
  return Buffer.from(`${text.slice(0, at)}${digit}${text.slice(at + 1)}`, 'utf8');
}
