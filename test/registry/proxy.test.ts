// Lookups through a real HTTP proxy (tinyproxy): which requests it carries, TLS inside its tunnels, its credentials, its failures.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors/index.ts';
import { parseReference } from '../../src/reference/index.ts';
import type { RegistryClientOptions } from '../../src/registry/index.ts';
import { startHttpProxy } from '../support/http-proxy.ts';
import type { HttpProxy } from '../support/http-proxy.ts';
import { lookupKit, rejection, soon } from '../support/lookups.ts';
import { createPki } from '../support/pki.ts';
import type { Pki } from '../support/pki.ts';
import { closedHost } from '../support/ports.ts';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { keyringFor, startSilentServer } from '../support/servers.ts';
import { eventually } from '../support/wait.ts';

let pki: Pki;
let plain: TestRegistry;
let secure: TestRegistry;
let token: TestRegistry;
let proxy: HttpProxy;
/** Digests the registries reported when the images were pushed. */
const pushed = { plain: '', secure: '', token: '' };
/** The tests' registries are on loopback, which a server-side client reaches only when listed. */
const kit = lookupKit(() => ({ privateHosts: ['127.0.0.1'], ca: pki.caPem }));

before(async () => {
  pki = await createPki();
  [plain, secure, token, proxy] = await Promise.all([
    startRegistry('http'),
    startRegistry('tls', { pki }),
    startRegistry('token', { pki }),
    startHttpProxy(),
  ]);
  [pushed.plain, pushed.secure, pushed.token] = await Promise.all([
    plain.push('demo/app', 'v1', 'oci-index'),
    secure.push('demo/app', 'v1', 'oci-manifest'),
    token.push('private/app', 'v1', 'oci-index'),
  ]);
});

after(async () => {
  await kit.closeAll();
  await Promise.all([plain.stop(), secure.stop(), token.stop(), proxy.stop()]);
});

/** Resolves `image` with a fresh client (so no kept-alive connection hides a route) and returns the digest. */
async function lookup(image: string, options: RegistryClientOptions): Promise<string> {
  const resolved = await kit.client(options).resolve(parseReference(image), {
    deadline: soon(),
    keyring: keyringFor(token.host, { username: token.username ?? '', password: token.password ?? '', source: 'test', key: token.host }),
  });
  return resolved.digest;
}

/** What `proxy` logged while `run` ran. */
async function proxiedDuring(server: HttpProxy, run: () => Promise<unknown>): Promise<ReturnType<HttpProxy['requests']>> {
  const before = server.requests().length;
  await run();
  return server.requests().slice(before);
}

describe('HTTPS_PROXY', () => {
  it('tunnels to a TLS registry with CONNECT and checks its certificate inside the tunnel', async () => {
    let digest = '';
    const logged = await proxiedDuring(proxy, async () => {
      digest = await lookup(`${secure.host}/demo/app:v1`, { proxyEnv: { HTTPS_PROXY: proxy.url } });
    });
    assert.equal(digest, pushed.secure);
    assert.deepEqual(logged, [{ method: 'CONNECT', target: secure.host }]);
  });

  it('fetches the bearer token through the proxy too: tunnels to the registry and to its realm', async () => {
    assert.ok(token.tokenRealm !== undefined);
    const realm = new URL(token.tokenRealm).host;
    const tokensBefore = token.tokenRequests().length;
    let digest = '';
    const logged = await proxiedDuring(proxy, async () => {
      digest = await lookup(`${token.host}/private/app:v1`, { proxyEnv: { https_proxy: proxy.url } });
    });
    assert.equal(digest, pushed.token);
    // The realm was asked (anonymously first, then with the credential) through the proxy.
    assert.ok(token.tokenRequests().slice(tokensBefore).some((r) => r.authenticated));
    assert.deepEqual([...new Set(logged.map((r) => r.target))].sort(), [token.host, realm].sort());
    assert.ok(logged.every((r) => r.method === 'CONNECT'));
  });

  it('connects directly to a registry NO_PROXY names, however it is named there', async () => {
    for (const noProxy of [secure.host, '127.0.0.1', '127.0.0.0/8', 'example.com, 127.0.0.1', '*']) {
      const manifestsBefore = secure.manifestRequests().length;
      let digest = '';
      const logged = await proxiedDuring(proxy, async () => {
        digest = await lookup(`${secure.host}/demo/app:v1`, { proxyEnv: { HTTPS_PROXY: proxy.url, NO_PROXY: noProxy } });
      });
      assert.equal(digest, pushed.secure, noProxy);
      assert.deepEqual(logged, [], noProxy);
      assert.ok(secure.manifestRequests().length > manifestsBefore, noProxy);
    }
  });

  it('still uses the proxy for a NO_PROXY entry on another port', async () => {
    const logged = await proxiedDuring(proxy, () => lookup(`${secure.host}/demo/app:v1`, { proxyEnv: { HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1:1' } }));
    assert.deepEqual(logged, [{ method: 'CONNECT', target: secure.host }]);
  });

  it('prefers HTTPS_PROXY to https_proxy, and reads an empty HTTPS_PROXY as unset', async () => {
    const dead = `http://${await closedHost()}`;
    const upper = await proxiedDuring(proxy, () => lookup(`${secure.host}/demo/app:v1`, { proxyEnv: { HTTPS_PROXY: proxy.url, https_proxy: dead } }));
    assert.deepEqual(upper, [{ method: 'CONNECT', target: secure.host }]);
    const lower = await proxiedDuring(proxy, () => lookup(`${secure.host}/demo/app:v1`, { proxyEnv: { HTTPS_PROXY: '', https_proxy: proxy.url } }));
    assert.deepEqual(lower, [{ method: 'CONNECT', target: secure.host }]);
  });

  it('leaves plain-HTTP registries direct, since those take HTTP_PROXY', async () => {
    let digest = '';
    const logged = await proxiedDuring(proxy, async () => {
      digest = await lookup(`${plain.host}/demo/app:v1`, { insecure: [plain.host], proxyEnv: { HTTPS_PROXY: proxy.url } });
    });
    assert.equal(digest, pushed.plain);
    assert.deepEqual(logged, []);
  });

  it('names the proxy when a TLS error happens inside its tunnel', async () => {
    const error = await rejection(
      kit.client({ privateHosts: ['127.0.0.1'], ca: '', proxyEnv: { HTTPS_PROXY: proxy.url } }).resolve(parseReference(`${secure.host}/demo/app:v1`), { deadline: soon() }),
    );
    assert.equal(error.code, 'REGISTRY_TLS');
    assert.match(error.message, new RegExp(`^the certificate of ${secure.host} is signed by an unknown authority; trust its CA with registries\\.caFile .*\\(through proxy ${proxy.host} \\(HTTPS_PROXY\\)\\)$`));
  });
});

describe('HTTP_PROXY', () => {
  it('sends requests for a plain-HTTP registry to the proxy as absolute URLs, not tunnels', async () => {
    let digest = '';
    const logged = await proxiedDuring(proxy, async () => {
      digest = await lookup(`${plain.host}/demo/app:v1`, { insecure: [plain.host], proxyEnv: { HTTP_PROXY: proxy.url } });
    });
    assert.equal(digest, pushed.plain);
    assert.deepEqual(logged, [{ method: 'HEAD', target: `http://${plain.host}/v2/demo/app/manifests/v1` }]);
  });

  it('is not used for https:// registries', async () => {
    const logged = await proxiedDuring(proxy, () => lookup(`${secure.host}/demo/app:v1`, { proxyEnv: { HTTP_PROXY: proxy.url } }));
    assert.deepEqual(logged, []);
  });
});

describe('an https:// proxy', () => {
  let secured: HttpProxy;
  before(async () => {
    secured = await startHttpProxy({ tls: pki });
  });
  after(async () => {
    await secured.stop();
  });

  it('is reached over TLS checked against the configured CA, and tunnels as a plain one does', async () => {
    const logged = await proxiedDuring(secured, async () => {
      assert.equal(await lookup(`${secure.host}/demo/app:v1`, { proxyEnv: { HTTPS_PROXY: secured.url } }), pushed.secure);
    });
    assert.ok(secured.url.startsWith('https://'));
    assert.deepEqual(logged, [{ method: 'CONNECT', target: secure.host }]);
  });

  it('is refused when its own certificate is not trusted, and the message says it is the proxy\'s', async () => {
    const logged = await proxiedDuring(secured, async () => {
      const error = await rejection(kit.client({ ca: '', proxyEnv: { HTTPS_PROXY: secured.url } }).resolve(parseReference(`${secure.host}/demo/app:v1`), { deadline: soon() }));
      assert.equal(error.code, 'REGISTRY_TLS');
      assert.equal(
        error.message,
        `cannot connect to proxy ${secured.host} (HTTPS_PROXY): unable to verify the first certificate (its certificate must chain to a system CA or to registries.caFile)`,
      );
    });
    assert.deepEqual(logged, []);
  });
});

describe('a proxy that wants credentials', () => {
  let guarded: HttpProxy;
  before(async () => {
    guarded = await startHttpProxy({ basicAuth: true });
  });
  after(async () => {
    await guarded.stop();
  });

  it('gets them from the user and password in the proxy URL, for tunnels and plain requests alike', async () => {
    const env = { HTTPS_PROXY: guarded.url, HTTP_PROXY: guarded.url };
    const logged = await proxiedDuring(guarded, async () => {
      assert.equal(await lookup(`${secure.host}/demo/app:v1`, { proxyEnv: env }), pushed.secure);
      assert.equal(await lookup(`${plain.host}/demo/app:v1`, { insecure: [plain.host], proxyEnv: env }), pushed.plain);
    });
    assert.deepEqual(logged.map((r) => r.method), ['CONNECT', 'HEAD']);
  });

  it('says the proxy wants credentials, naming it by host and port and the variable to put them in', async () => {
    const bare = `http://${guarded.host}`;
    for (const [variable, image, insecure] of [
      ['HTTPS_PROXY', `${secure.host}/demo/app:v1`, []],
      ['HTTP_PROXY', `${plain.host}/demo/app:v1`, [plain.host]],
    ] as const) {
      const target = parseReference(image).registry;
      const error = await rejection(kit.client({ insecure, proxyEnv: { [variable]: bare } }).resolve(parseReference(image), { deadline: soon() }));
      assert.equal(error.code, 'REGISTRY_NETWORK');
      assert.equal(error.status, 407);
      assert.equal(
        error.message,
        `proxy ${guarded.host} (${variable}) answered 407 Proxy Authentication Required for ${target}; put the proxy's user and password in ${variable} (http://USER:PASSWORD@HOST:PORT)`,
      );
    }
  });

  it('says the credentials were refused without repeating them', async () => {
    const wrong = `http://${guarded.username ?? ''}:not-${guarded.password ?? ''}@${guarded.host}`;
    const error = await rejection(kit.client({ proxyEnv: { HTTPS_PROXY: wrong } }).resolve(parseReference(`${secure.host}/demo/app:v1`), { deadline: soon() }));
    // tinyproxy answers wrong credentials with 401 (missing ones with 407).
    assert.equal(error.message, `proxy ${guarded.host} (HTTPS_PROXY) answered 401 Unauthorized for ${secure.host}; check the user and password in HTTPS_PROXY`);
    assert.doesNotMatch(`${error.message} ${String(error.cause)}`, new RegExp(guarded.password ?? 'unset'));
  });
});

describe('a proxy that refuses or cannot be reached', () => {
  it('says the proxy refused the destination (403), once, without a retry', async () => {
    const strict = await startHttpProxy({ connectPorts: [443] });
    try {
      const logged = await proxiedDuring(strict, async () => {
        const error = await rejection(kit.client({ proxyEnv: { HTTPS_PROXY: strict.url } }).resolve(parseReference(`${secure.host}/demo/app:v1`), { deadline: soon() }));
        assert.equal(error.status, 403);
        assert.equal(
          error.message,
          `proxy ${strict.host} (HTTPS_PROXY) answered 403 Forbidden for ${secure.host}; the proxy does not allow this destination (or add it to NO_PROXY to connect directly)`,
        );
      });
      assert.deepEqual(logged, [{ method: 'CONNECT', target: secure.host }]);
    } finally {
      await strict.stop();
    }
  });

  it('says the proxy cannot be reached, naming it and the variable, after the usual retries', async () => {
    const dead = await closedHost();
    const retries: number[] = [];
    const error = await rejection(
      kit
        .client({ proxyEnv: { HTTPS_PROXY: `http://user:hunter2@${dead}` }, observer: { onRetry: (event) => retries.push(event.status) } })
        .resolve(parseReference(`${secure.host}/demo/app:v1`), { deadline: soon() }),
    );
    assert.equal(error.code, 'REGISTRY_NETWORK');
    assert.equal(error.message, `cannot connect to proxy ${dead} (HTTPS_PROXY): connection refused`);
    assert.deepEqual(retries, [0, 0]);
  });

  it('gives up on a proxy that never answers a CONNECT: at the deadline, or after 10 s with a longer one', async () => {
    const silent = await startSilentServer();
    try {
      const image = parseReference(`${secure.host}/demo/app:v1`);
      const options = { proxyEnv: { HTTPS_PROXY: `http://${silent.host}` } };
      const [short, long] = await Promise.all([
        rejection(kit.client(options).resolve(image, { deadline: soon(1000) })),
        rejection(kit.client(options).resolve(image, { deadline: soon(25_000) })),
      ]);
      assert.equal(short.code, 'REGISTRY_TIMEOUT');
      assert.equal(long.message, `cannot connect to proxy ${silent.host} (HTTPS_PROXY): no answer to CONNECT within 10 s`);
      assert.equal(silent.asked(), 2);
      // The short lookup's CONNECT outlives it (undici cannot cancel one) until the same 10 s answer timeout.
      await eventually(() => silent.stillAsking() === 0, 'tagpin to close its CONNECTs to the silent proxy');
    } finally {
      await silent.close();
    }
  });

  it('leaves the registry name to the proxy: tagpin resolves nothing itself', async () => {
    const asked: string[] = [];
    const logged = await proxiedDuring(proxy, async () => {
      const error = await rejection(
        kit
          .client({
            lookup: (hostname) => {
              asked.push(hostname);
              return Promise.resolve([{ address: '127.0.0.1', family: 4 }]);
            },
            proxyEnv: { HTTPS_PROXY: proxy.url },
          })
          .resolve(parseReference('registry.invalid/demo/app:v1'), { deadline: soon() }),
      );
      assert.match(error.message, new RegExp(`^proxy ${proxy.host} \\(HTTPS_PROXY\\) answered 5\\d\\d .* for registry\\.invalid:443; the proxy could not reach it$`));
    });
    assert.deepEqual(asked, []);
    assert.deepEqual(logged, [{ method: 'CONNECT', target: 'registry.invalid:443' }]);
  });
});

describe('the address guard through a proxy', () => {
  it('refuses metadata and loopback literals and localhost names before contacting the proxy', async () => {
    const env = { proxyEnv: { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url }, privateHosts: [] };
    const logged = await proxiedDuring(proxy, async () => {
      for (const image of ['169.254.169.254/latest/meta-data:v1', '[fd00:ec2::254]/x:v1', '127.0.0.1:5000/x:v1', 'localhost:5000/x:v1', 'registry.localhost/x:v1']) {
        const error = await rejection(kit.client(env).resolve(parseReference(image), { deadline: soon() }));
        assert.equal(error.code, 'REGISTRY_FORBIDDEN_ADDRESS', image);
        assert.match(error.message, /^refusing to contact /, image);
      }
    });
    assert.deepEqual(logged, []);
  });
});

describe('malformed proxy variables', () => {
  it('stop the client from being built, naming the variable', () => {
    assert.throws(() => kit.client({ proxyEnv: { HTTP_PROXY: 'socks5://127.0.0.1:1080' } }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, 'HTTP_PROXY names a socks5 proxy; only http:// and https:// proxies are supported');
      return true;
    });
  });
});
