// Reading HTTPS_PROXY, HTTP_PROXY and NO_PROXY: which variable wins, what a proxy URL may be, what NO_PROXY exempts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors/index.ts';
import { compileNoProxy } from '../../src/registry/no-proxy.ts';
import { readProxySettings, summarizeProxies } from '../../src/registry/proxy.ts';

describe('proxy variables', () => {
  it('reads nothing when neither proxy is set, NO_PROXY alone included', () => {
    assert.equal(readProxySettings({}), undefined);
    assert.equal(readProxySettings({ NO_PROXY: 'corp', HTTPS_PROXY: '', https_proxy: '  ' }), undefined);
  });

  it('prefers the upper-case form and skips an empty one, as Go programs do', () => {
    const both = readProxySettings({ HTTPS_PROXY: 'http://upper:3128', https_proxy: 'http://lower:3128' });
    assert.deepEqual([both?.https?.address, both?.https?.variable], ['upper:3128', 'HTTPS_PROXY']);
    const emptyUpper = readProxySettings({ HTTPS_PROXY: '', https_proxy: 'http://lower:3128', no_proxy: 'corp' });
    assert.deepEqual([emptyUpper?.https?.address, emptyUpper?.https?.variable], ['lower:3128', 'https_proxy']);
    assert.equal(emptyUpper?.noProxy?.variable, 'no_proxy');
  });

  it('keeps the two schemes apart: HTTP_PROXY alone leaves https:// requests direct', () => {
    const settings = readProxySettings({ HTTP_PROXY: 'http://proxy:3128' });
    assert.equal(settings?.https, undefined);
    assert.equal(settings?.http?.address, 'proxy:3128');
  });

  it('reads a value without a scheme as an http:// proxy and fills in the default port', () => {
    const settings = readProxySettings({ HTTPS_PROXY: 'proxy.corp:3128', HTTP_PROXY: 'http://proxy.corp' });
    assert.deepEqual(settings?.https, { variable: 'HTTPS_PROXY', address: 'proxy.corp:3128', origin: 'http://proxy.corp:3128', authorization: undefined });
    assert.equal(settings?.http?.address, 'proxy.corp:80');
    assert.equal(readProxySettings({ HTTPS_PROXY: 'https://proxy.corp' })?.https?.address, 'proxy.corp:443');
  });

  it('turns user and password into a Basic Proxy-Authorization and names the proxy without them', () => {
    const settings = readProxySettings({ HTTPS_PROXY: 'http://al%40ice:p%3Ass@proxy:3128', NO_PROXY: '.corp' });
    assert.equal(settings?.https?.authorization, `Basic ${Buffer.from('al@ice:p:ss').toString('base64')}`);
    assert.equal(settings?.https?.origin, 'http://proxy:3128');
    assert.ok(settings !== undefined);
    assert.deepEqual(summarizeProxies(settings), { https: 'proxy:3128 (HTTPS_PROXY)', noProxy: '.corp (NO_PROXY)' });
  });

  it('refuses a value that is no http:// or https:// proxy, naming the variable and never the password', () => {
    const cases: ReadonlyArray<readonly [Record<string, string>, RegExp]> = [
      [{ HTTPS_PROXY: 'socks5://proxy:1080' }, /^HTTPS_PROXY names a socks5 proxy; only http:\/\/ and https:\/\/ proxies are supported$/],
      [{ http_proxy: 'http://user:hunter2@[::1' }, /^http_proxy is not a proxy URL \(got "http:\/\/\*\*\*@\[::1"\); set it to http:\/\/HOST:PORT/],
      [{ HTTPS_PROXY: 'user:hunter2@proxy:99999' }, /^HTTPS_PROXY is not a proxy URL \(got "\*\*\*@proxy:99999"\)/],
    ];
    for (const [env, message] of cases) {
      assert.throws(() => readProxySettings(env), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, message);
        assert.doesNotMatch(error.message, /hunter2/);
        return true;
      });
    }
  });
});

describe('NO_PROXY', () => {
  const exempts = (value: string, url: string): boolean => compileNoProxy(value, 'NO_PROXY')(new URL(url));

  it('exempts a name and every name under it, with or without a leading dot or *.', () => {
    for (const entry of ['corp.example', '.corp.example', '*.corp.example', 'CORP.example.']) {
      assert.equal(exempts(entry, 'https://corp.example/v2/'), true, entry);
      assert.equal(exempts(entry, 'https://registry.corp.example/v2/'), true, entry);
      assert.equal(exempts(entry, 'https://a.b.Corp.Example/v2/'), true, entry);
      assert.equal(exempts(entry, 'https://evilcorp.example/v2/'), false, entry);
      assert.equal(exempts(entry, 'https://corp.example.org/v2/'), false, entry);
    }
  });

  it('compares a port when the entry has one; a URL without one has its scheme default', () => {
    assert.equal(exempts('registry.corp:5000', 'https://registry.corp:5000/'), true);
    assert.equal(exempts('registry.corp:5000', 'https://registry.corp/'), false);
    assert.equal(exempts('registry.corp:443', 'https://registry.corp/'), true);
    assert.equal(exempts('registry.corp:80', 'http://registry.corp/'), true);
    assert.equal(exempts('10.1.2.3:5000', 'https://10.1.2.3:5000/'), true);
    assert.equal(exempts('10.1.2.3:5000', 'https://10.1.2.3:5001/'), false);
    assert.equal(exempts('[::1]:5000', 'https://[::1]:5000/'), true);
    assert.equal(exempts('[::1]:5000', 'https://[::1]:443/'), false);
  });

  it('matches addresses and ranges against hosts written as addresses, not against names', () => {
    assert.equal(exempts('127.0.0.1', 'https://127.0.0.1:5000/'), true);
    assert.equal(exempts('::1', 'https://[::1]:5000/'), true);
    assert.equal(exempts('[0:0::1]', 'https://[::1]/'), true);
    assert.equal(exempts('10.0.0.0/8', 'https://10.200.0.7/'), true);
    assert.equal(exempts('10.0.0.0/8', 'https://11.0.0.1/'), false);
    assert.equal(exempts('fd00::/8', 'https://[fd12::5]:5000/'), true);
    assert.equal(exempts('10.0.0.0/8', 'https://[::ffff:10.0.0.1]/'), true);
    assert.equal(exempts('127.0.0.1', 'https://localhost/'), false);
    assert.equal(exempts('10.0.0.0/8', 'https://registry.corp/'), false);
  });

  it('reads `*` as everything, splits on commas and spaces, and ignores empty entries', () => {
    assert.equal(exempts('*', 'https://registry-1.docker.io/'), true);
    assert.equal(exempts(' a.corp , ,b.corp c.corp', 'https://x.c.corp/'), true);
    assert.equal(exempts(',,', 'https://x.c.corp/'), false);
    assert.equal(exempts('*.corp', 'https://registry-1.docker.io/'), false);
  });

  it('refuses a range that does not parse, naming the variable', () => {
    assert.throws(() => compileNoProxy('corp,10.0.0.0/33', 'no_proxy'), /^ConfigError: no_proxy entry "10.0.0.0\/33" is not an address range such as 10.0.0.0\/8/);
  });
});
