// Failures that name their cause, in the server's words: a missing repository or tag, a host that is not a registry, the registry's own DENIED, TOOMANYREQUESTS and UNAUTHORIZED, and TLS causes without OpenSSL's text.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { RegistryError } from '../../src/errors/index.ts';
import { parseReference } from '../../src/reference/index.ts';
import type { RegistryClientOptions } from '../../src/registry/index.ts';
import { lookupKit, rejection, soon } from '../support/lookups.ts';
import { createPki } from '../support/pki.ts';
import type { IssueOptions, Pki } from '../support/pki.ts';
import { listen } from '../support/ports.ts';
import { startRegistry } from '../support/registry.ts';
import type { LoggedRequest, RegistrySetup, TestRegistry } from '../support/registry.ts';
import { keyringFor } from '../support/servers.ts';
import type { LocalServer } from '../support/servers.ts';

let pki: Pki;
const registries = new Map<RegistrySetup, TestRegistry>();
/** Clients that may contact the loopback test servers; each test says what it trusts and lists. */
const kit = lookupKit(() => ({ allow: ['127.0.0.1'] }));

/** The server's words for the fixes (SERVER_TRUST_HINTS, the client's default). */
const INSECURE = 'registries.insecure (chart value config.registries.insecure)';
const CA_FILE = 'trust its CA with registries.caFile (chart value config.registries.caFile)';
/** What OpenSSL's own text looks like; none of it may reach a message. */
const OPENSSL_TEXT = /SSL routines|wrong version number|packet length too long|error:0A|:SSL|OPENSSL|ERR_SSL/i;

function registry(setup: RegistrySetup): TestRegistry {
  const found = registries.get(setup);
  assert.ok(found, `registry ${setup} was not started`);
  return found;
}

/** A client that trusts the test CA (and reaches the plain registry over HTTP), then `options`. */
function client(options: RegistryClientOptions = {}): ReturnType<typeof kit.client> {
  return kit.client({ ca: pki.caPem, insecure: [registry('http').host], ...options });
}

/** The failure of looking up `image`, checked to be one human line. */
async function failure(image: string, options: RegistryClientOptions = {}, lookup: { keyring?: ReturnType<typeof keyringFor> } = {}): Promise<RegistryError> {
  const error = await rejection(client(options).resolve(parseReference(image), { deadline: soon(), ...lookup }));
  assert.doesNotMatch(error.message, /\n/);
  assert.doesNotMatch(error.message, OPENSSL_TEXT);
  return error;
}

/** `METHOD PATH STATUS` of each request the registry logged since `from`. */
function logged(reg: TestRegistry, from: number): readonly string[] {
  return reg.requests().slice(from).map((r: LoggedRequest) => `${r.method} ${r.path} ${String(r.status)}`);
}

/** The user that may pull everything from a token registry. */
function owner(reg: TestRegistry): ReturnType<typeof keyringFor> {
  assert.ok(reg.username !== undefined && reg.password !== undefined);
  return keyringFor(reg.host, { username: reg.username, password: reg.password, source: 'test config', key: reg.host });
}

/** An HTTPS server on loopback with a leaf from the test CA (`options` choose its names and dates). */
async function https(handle: (res: ServerResponse, path: string, method: string) => void, options: IssueOptions & { readonly sans?: readonly string[] } = {}): Promise<LocalServer> {
  const leaf = await pki.issue(`web-${String(Math.random()).slice(2, 10)}`, options.sans ?? [], undefined, options);
  return kit.server((req, res) => {
    handle(res, req.url ?? '/', req.method ?? 'GET');
  }, { tls: leaf });
}

/** A web page, as a web server that is not a registry answers every path. */
function page(status: number): (res: ServerResponse) => void {
  return (res) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>Welcome</title><p>Not a registry.</p>');
  };
}

/** An OCI error body. */
function registryError(res: ServerResponse, method: string, status: number, headers: Record<string, string>, code: string, message: string): void {
  const body = JSON.stringify({ errors: [{ code, message, detail: { echoed: 'never quoted' } }] });
  res.writeHead(status, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0', ...headers });
  res.end(method === 'HEAD' ? undefined : body);
}

before(async () => {
  pki = await createPki();
  await Promise.all(
    (['http', 'tls', 'token'] as const).map(async (setup) => {
      const started = await startRegistry(setup, setup === 'http' ? {} : { pki });
      registries.set(setup, started);
      await started.push('demo/app', '1.0', 'oci-manifest');
    }),
  );
});

after(async () => {
  await kit.closeAll();
  await Promise.all([...registries.values()].map((r) => r.stop()));
});

describe('a missing repository is told from a missing tag (the real registry, asked once more)', () => {
  for (const setup of ['http', 'tls', 'token'] as const) {
    it(`over the ${setup} setup: "repository … not found" for a repository it lacks, "tag … not found" for a tag missing from one it has`, async () => {
      const reg = registry(setup);
      const keyring = setup === 'token' ? owner(reg) : undefined;
      const lookup = keyring === undefined ? {} : { keyring };

      const start = reg.requests().length;
      const repository = await failure(`${reg.host}/demo/nope:1.0`, {}, lookup);
      assert.equal(repository.code, 'REGISTRY_NOT_FOUND');
      assert.equal(repository.message, `repository demo/nope not found in ${reg.host}`);
      assert.equal(repository.status, 404);
      // Distribution answers MANIFEST_UNKNOWN for a missing repository too, so the manifest's own error
      // body cannot tell; one tags/list says NAME_UNKNOWN. Its answers carry the registry API's header,
      // so no /v2/ probe is needed.
      const asked = logged(reg, start).filter((line) => !line.endsWith(' 401'));
      assert.deepEqual(asked, ['HEAD /v2/demo/nope/manifests/1.0 404', 'GET /v2/demo/nope/tags/list 404']);

      const middle = reg.requests().length;
      const tag = await failure(`${reg.host}/demo/app:2.0`, {}, lookup);
      assert.equal(tag.code, 'REGISTRY_NOT_FOUND');
      assert.equal(tag.message, `tag 2.0 not found in ${reg.host}/demo/app`);
      assert.deepEqual(logged(reg, middle).filter((line) => !line.endsWith(' 401')), ['HEAD /v2/demo/app/manifests/2.0 404', 'GET /v2/demo/app/tags/list 200']);
    });
  }

  it('token: an anonymous token for a repository it may not read gets 401 (insufficient scope), never NAME_UNKNOWN, so the lookup is unauthorized and claims nothing about existence', async () => {
    const reg = registry('token');
    for (const repository of ['demo/app', 'demo/nope']) {
      const start = reg.requests().length;
      const error = await failure(`${reg.host}/${repository}:1.0`);
      assert.equal(error.code, 'REGISTRY_UNAUTHORIZED');
      assert.equal(error.message, `unauthorized: no credentials matched ${reg.host}`);
      assert.deepEqual(logged(reg, start), [`HEAD /v2/${repository}/manifests/1.0 401`, `HEAD /v2/${repository}/manifests/1.0 401`]);
    }
  });

  it('token: under public/, which anonymous tokens may pull, a missing repository is named as such', async () => {
    const reg = registry('token');
    const error = await failure(`${reg.host}/public/nope:1.0`);
    assert.equal(error.message, `repository public/nope not found in ${reg.host}`);
  });

  it('remembers neither failure: the repository and the tag are found as soon as they are pushed', async () => {
    const reg = registry('http');
    const resolver = client();
    const missing = parseReference(`${reg.host}/demo/later:1.0`);
    assert.equal((await rejection(resolver.resolve(missing, { deadline: soon() }))).message, `repository demo/later not found in ${reg.host}`);
    const pushed = await reg.push('demo/later', '1.0', 'oci-manifest');
    assert.equal((await resolver.resolve(missing, { deadline: soon() })).digest, pushed);
  });
});

describe('a host that answers without the registry API is not a container registry', () => {
  it('an HTTPS web server answering 404 pages: one GET /v2/ shows it, and nothing more is asked', async () => {
    const web = await https(page(404));
    const error = await failure(`${web.host}/demo/app:1.0`);
    assert.equal(error.code, 'REGISTRY_NOT_A_REGISTRY');
    assert.equal(error.message, `${web.host} is not a container registry (GET /v2/ answered 404 Not Found, text/html)`);
    assert.deepEqual(web.seen.map((r) => `${r.method} ${r.path}`), ['HEAD /v2/demo/app/manifests/1.0', 'GET /v2/']);
  });

  it('an HTTPS web server answering 200 pages: the page it sends for the manifest shows it', async () => {
    const web = await https(page(200));
    const error = await failure(`${web.host}/demo/app:1.0`);
    assert.equal(error.code, 'REGISTRY_NOT_A_REGISTRY');
    assert.equal(error.message, `${web.host} is not a container registry (GET /v2/demo/app/manifests/1.0 answered 200 OK, text/html)`);
  });

  it('a 404 page in front of a real registry API is still a missing tag', async () => {
    // A front whose 404s for manifests are pages (a proxy's error page), while /v2/ answers as a registry.
    const web = await https((res, path) => {
      if (path === '/v2/') res.writeHead(200, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' }).end('{}');
      else if (path.includes('/tags/list')) res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"demo/app","tags":["1.0"]}');
      else page(404)(res);
    });
    const error = await failure(`${web.host}/demo/app:2.0`);
    assert.equal(error.message, `tag 2.0 not found in ${web.host}/demo/app`);
    assert.deepEqual(web.seen.map((r) => `${r.method} ${r.path}`), ['HEAD /v2/demo/app/manifests/2.0', 'GET /v2/', 'GET /v2/demo/app/tags/list?n=1']);
  });
});

describe("the registry's own error codes, with its message on one line", () => {
  it('DENIED: the code is REGISTRY_DENIED and the message is the registry\'s, read with one GET after the HEAD was refused', async () => {
    const web = await https((res, _path, method) => {
      res.setHeader('www-authenticate', 'Basic realm="corp"');
      registryError(res, method, res.req.headers.authorization === undefined ? 401 : 403, {}, 'DENIED', 'requested access to the resource is denied');
    });
    const keyring = keyringFor(web.host, { username: 'ci', password: 'ci-password', source: 'secret ns/regcred', key: web.host });
    const error = await failure(`${web.host}/demo/app:1.0`, {}, { keyring });
    assert.equal(error.code, 'REGISTRY_DENIED');
    assert.equal(error.status, 403);
    assert.equal(
      error.message,
      `denied: credentials from secret ns/regcred were rejected by ${web.host} (DENIED: requested access to the resource is denied)`,
    );
    assert.deepEqual(web.seen.map((r) => `${r.method} ${r.headers.authorization === undefined ? 'anonymous' : 'with credentials'}`), [
      'HEAD anonymous',
      'HEAD with credentials',
      'GET with credentials',
    ]);
  });

  it('DENIED: a message spanning lines and echoing what was sent is one line of at most 200 characters, with no credential in it', async () => {
    const web = await https((res, _path, method) => {
      const sent = res.req.headers.authorization ?? '';
      res.setHeader('www-authenticate', 'Basic realm="corp"');
      const message = `access denied\n\tfor ${sent} (password ${Buffer.from(sent.slice('Basic '.length), 'base64').toString().split(':')[1] ?? ''}) ${'x'.repeat(300)}`;
      registryError(res, method, sent === '' ? 401 : 403, {}, 'DENIED', message);
    });
    const keyring = keyringFor(web.host, { username: 'ci', password: 'hunter2-secret', source: 'secret ns/regcred', key: web.host });
    const error = await failure(`${web.host}/demo/app:1.0`, {}, { keyring });
    const quoted = /\((DENIED: .*)\)$/.exec(error.message)?.[1] ?? '';
    assert.ok(quoted.startsWith('DENIED: access denied for [redacted] (password [redacted]) xxx'), quoted);
    assert.equal(quoted.length, 200);
    assert.ok(quoted.endsWith('…'));
    assert.doesNotMatch(error.message, /hunter2|Y2k6aHVudGVy/);
  });

  it('TOOMANYREQUESTS: rate limited, naming the registry\'s message and the Retry-After it gave', async () => {
    const web = await https((res, _path, method) => {
      // HEAD unsupported, so the manifest GET meets the limit and its body says why.
      if (method === 'HEAD') res.writeHead(405).end();
      else registryError(res, method, 429, { 'retry-after': '30' }, 'TOOMANYREQUESTS', 'You have reached your pull rate limit.');
    });
    const error = await failure(`${web.host}/demo/app:1.0`);
    assert.equal(error.code, 'REGISTRY_RATE_LIMITED');
    assert.equal(error.message, `rate limited by ${web.host} (TOOMANYREQUESTS: You have reached your pull rate limit.), retry after 30 s`);
    assert.equal(error.retryAfterSeconds, 30);
    // The wait does not fit the lookup's deadline: no second GET.
    assert.deepEqual(web.seen.map((r) => r.method), ['HEAD', 'GET']);
  });

  it('TOOMANYREQUESTS to a HEAD: no body, and no further request to read one from a registry that asked for fewer', async () => {
    const web = await https((res, _path, method) => {
      registryError(res, method, 429, { 'retry-after': '30' }, 'TOOMANYREQUESTS', 'You have reached your pull rate limit.');
    });
    const error = await failure(`${web.host}/demo/app:1.0`);
    assert.equal(error.message, `rate limited by ${web.host}, retry after 30 s`);
    assert.deepEqual(web.seen.map((r) => r.method), ['HEAD']);
  });

  it('UNAUTHORIZED: named with the registry\'s message when the answer has a body (a GET, HEAD being unsupported)', async () => {
    const web = await https((res, _path, method) => {
      if (method === 'HEAD') {
        res.writeHead(405).end();
        return;
      }
      res.setHeader('www-authenticate', 'Basic realm="corp"');
      registryError(res, method, 401, {}, 'UNAUTHORIZED', 'authentication required');
    });
    const error = await failure(`${web.host}/demo/app:1.0`);
    assert.equal(error.code, 'REGISTRY_UNAUTHORIZED');
    assert.equal(error.message, `unauthorized: ${web.host} answered 401 Unauthorized (UNAUTHORIZED: authentication required)`);
  });

  it('NAME_UNKNOWN in the body of a manifest GET names the repository without asking again', async () => {
    const web = await https((res, _path, method) => {
      if (method === 'HEAD') res.writeHead(405).end();
      else registryError(res, method, 404, {}, 'NAME_UNKNOWN', 'repository name not known to registry');
    });
    const error = await failure(`${web.host}/team/tool:1.0`);
    assert.equal(error.message, `repository team/tool not found in ${web.host}`);
    assert.deepEqual(web.seen.map((r) => r.method), ['HEAD', 'GET']);
  });
});

describe('TLS failures as one human cause, in the server\'s words', () => {
  it('a TLS registry listed as plain HTTP: "speaks HTTPS", after one HTTPS request to see it', async () => {
    const reg = registry('tls');
    const start = reg.requests().length;
    const error = await failure(`${reg.host}/demo/app:1.0`, { insecure: [reg.host] });
    assert.equal(error.code, 'REGISTRY_TLS');
    assert.equal(error.message, `${reg.host} speaks HTTPS; remove it from ${INSECURE}`);
    // Go answers the plain request with a 400 before routing (not logged); the HTTPS probe is.
    assert.deepEqual(logged(reg, start), ['GET /v2/ 200']);
  });

  it('a TLS registry listed as plain HTTP whose CA is not trusted either: both fixes', async () => {
    const reg = registry('tls');
    const resolver = kit.client({ insecure: [reg.host] });
    const error = await rejection(resolver.resolve(parseReference(`${reg.host}/demo/app:1.0`), { deadline: soon() }));
    assert.equal(error.message, `${reg.host} speaks HTTPS; remove it from ${INSECURE} and ${CA_FILE}`);
  });

  it('a Node HTTPS server listed as plain HTTP, which hangs up on plain requests: "speaks HTTPS" once the retries are spent', async () => {
    const web = await https(page(200));
    const error = await failure(`${web.host}/demo/app:1.0`, { insecure: [web.host] });
    assert.equal(error.code, 'REGISTRY_TLS');
    assert.equal(error.message, `${web.host} speaks HTTPS; remove it from ${INSECURE}`);
    assert.deepEqual(web.seen.map((r) => `${r.method} ${r.path}`), ['GET /v2/']);
  });

  it('a plain-HTTP registry reached over HTTPS: "speaks plain HTTP" and the setting that lists it', async () => {
    const reg = registry('http');
    const error = await failure(`${reg.host}/demo/app:1.0`, { insecure: [] });
    assert.equal(error.message, `${reg.host} speaks plain HTTP; list it in ${INSECURE}`);
  });

  it('a certificate for another name: which names it covers, and which one was asked for', async () => {
    const web = await https(page(200), { sans: ['registry.example', 'mirror.example'], onlySans: true });
    const error = await failure(`${web.host}/demo/app:1.0`);
    assert.equal(error.code, 'REGISTRY_TLS');
    assert.equal(error.message, `the certificate of ${web.host} is for registry.example, mirror.example, not 127.0.0.1; use a name it covers, or reissue it`);
  });

  it('an expired certificate, and one not valid yet', async () => {
    const day = 24 * 3600 * 1000;
    const expired = await https(page(200), { validity: { notBefore: new Date(Date.now() - 30 * day), notAfter: new Date(Date.now() - 2 * day) } });
    const early = await https(page(200), { validity: { notBefore: new Date(Date.now() + 2 * day), notAfter: new Date(Date.now() + 30 * day) } });
    const old = await failure(`${expired.host}/demo/app:1.0`);
    assert.equal(old.code, 'REGISTRY_TLS');
    assert.equal(old.message, `the certificate of ${expired.host} has expired; renew it (or check this machine's clock)`);
    const young = await failure(`${early.host}/demo/app:1.0`);
    assert.equal(young.message, `the certificate of ${early.host} is not valid yet; check this machine's clock (or wait until it is)`);
  });

  it('a handshake the server ends (it speaks only TLS 1.1 and older): the reason in words', async () => {
    const leaf = await pki.issue('tls11', []);
    const legacy = { cert: leaf.certPem, key: leaf.keyPem, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;
    const server = createHttpsServer(legacy, (_req, res) => {
      res.end();
    });
    server.on('tlsClientError', () => undefined);
    const { port } = await listen(server);
    kit.onClose(() => new Promise<void>((resolve) => server.close(() => {
      resolve();
    })));
    const host = `127.0.0.1:${String(port)}`;
    const error = await failure(`${host}/demo/app:1.0`);
    assert.equal(error.code, 'REGISTRY_TLS');
    assert.equal(error.message, `TLS handshake with ${host} failed (no TLS version in common with the server)`);
  });
});
