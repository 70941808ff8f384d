// The CLI honours HTTPS_PROXY, HTTP_PROXY and NO_PROXY from its environment, through a real tinyproxy.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { escapeRegExp, lines, runCli } from '../support/cli.ts';
import { startHttpProxy } from '../support/http-proxy.ts';
import type { HttpProxy } from '../support/http-proxy.ts';
import { closedHost } from '../support/ports.ts';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';

describe('tagpin resolve through a proxy', () => {
  let tls: TestRegistry;
  let plain: TestRegistry;
  let proxy: HttpProxy;
  let guarded: HttpProxy;
  let caFile: string;
  const pushed = { tls: '', plain: '' };

  before(async () => {
    [tls, plain, proxy, guarded] = await Promise.all([startRegistry('tls'), startRegistry('http'), startHttpProxy(), startHttpProxy({ basicAuth: true })]);
    caFile = tls.pki?.caFile ?? '';
    [pushed.tls, pushed.plain] = await Promise.all([tls.push('demo/app', 'v1', 'oci-index'), plain.push('demo/app', 'v1', 'oci-manifest')]);
  });
  after(async () => {
    await Promise.all([tls.stop(), plain.stop(), proxy.stop(), guarded.stop()]);
  });

  test('resolves a TLS registry through HTTPS_PROXY and a plain one through HTTP_PROXY', async () => {
    const secureImage = `${tls.host}/demo/app:v1`;
    const plainImage = `${plain.host}/demo/app:v1`;
    const before = proxy.requests().length;
    const result = await runCli(['resolve', '--ca-file', caFile, '--insecure-registry', plain.host, secureImage, plainImage], {
      env: { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(lines(result.stdout), [`${secureImage}\t${secureImage}@${pushed.tls}`, `${plainImage}\t${plainImage}@${pushed.plain}`]);
    // The two lookups run in parallel, so the proxy may log them in either order.
    const seen = proxy.requests().slice(before).map((request) => `${request.method} ${request.target}`);
    assert.deepEqual(seen.sort(), [`CONNECT ${tls.host}`, `HEAD http://${plain.host}/v2/demo/app/manifests/v1`].sort());
  });

  test('connects directly to the hosts no_proxy names', async () => {
    const image = `${tls.host}/demo/app:v1`;
    const before = proxy.requests().length;
    const result = await runCli(['resolve', '--ca-file', caFile, image], { env: { https_proxy: proxy.url, no_proxy: `localhost,${tls.host}` } });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${image}\t${image}@${pushed.tls}\n`);
    assert.deepEqual(proxy.requests().slice(before), []);
  });

  test("sends the proxy's credentials from the URL and never prints them", async () => {
    const image = `${tls.host}/demo/app:v1`;
    const before = guarded.requests().length;
    const result = await runCli(['resolve', '--ca-file', caFile, image], { env: { HTTPS_PROXY: guarded.url, TAGPIN_DEBUG: '1' } });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${image}\t${image}@${pushed.tls}\n`);
    assert.deepEqual(guarded.tunnels().slice(before), [tls.host]);

    const refused = await runCli(['resolve', '--ca-file', caFile, image], {
      env: { HTTPS_PROXY: `http://${guarded.username ?? ''}:wrong-${guarded.password ?? ''}@${guarded.host}`, TAGPIN_DEBUG: '1' },
    });
    assert.equal(refused.code, 1);
    assert.match(
      lines(refused.stderr)[0] ?? '',
      new RegExp(`^tagpin: ${escapeRegExp(image)}: proxy ${escapeRegExp(guarded.host)} \\(HTTPS_PROXY\\) answered 401 Unauthorized for ${escapeRegExp(tls.host)}; check the user and password in HTTPS_PROXY$`),
    );
    // TAGPIN_DEBUG prints the stack and causes too: none of it holds the password, plain or encoded.
    const secrets = [guarded.password ?? '', Buffer.from(`${guarded.username ?? ''}:wrong-${guarded.password ?? ''}`).toString('base64')];
    for (const secret of secrets) {
      assert.ok(!`${result.stdout}${result.stderr}${refused.stdout}${refused.stderr}`.includes(secret));
    }
  });

  test('says in one line that the proxy cannot be reached, naming it by host and port', async () => {
    const dead = await closedHost();
    const image = `${tls.host}/demo/app:v1`;
    const result = await runCli(['resolve', '--ca-file', caFile, image], { env: { HTTPS_PROXY: `http://user:hunter2@${dead}` } });
    assert.equal(result.code, 1);
    assert.equal(result.stderr, `tagpin: ${image}: cannot connect to proxy ${dead} (HTTPS_PROXY): connection refused (registry ${tls.host})\n`);
  });

  test('--help names the proxy variables', async () => {
    const result = await runCli(['resolve', '--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /Registry requests go through \$HTTPS_PROXY \(http:\/\/ registries: \$HTTP_PROXY\) when set, except for\nthe hosts in \$NO_PROXY\./);
  });

  test('stops with a usage-level error for a proxy variable it cannot use', async () => {
    const result = await runCli(['resolve', `${tls.host}/demo/app:v1`], { env: { HTTPS_PROXY: 'socks5://user:hunter2@127.0.0.1:1080' } });
    assert.equal(result.code, 2);
    assert.equal(result.stderr, 'tagpin: HTTPS_PROXY names a socks5 proxy; only http:// and https:// proxies are supported\n');
  });
});
