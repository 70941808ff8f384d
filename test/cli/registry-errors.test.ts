// `tagpin resolve` failures in the CLI's words: a missing repository or tag, a host that is not a registry, and TLS causes that name the flag fixing them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { lines, removeDir, runCli } from '../support/cli.ts';
import { createPki } from '../support/pki.ts';
import type { Pki } from '../support/pki.ts';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { startServer } from '../support/servers.ts';
import type { LocalServer } from '../support/servers.ts';

/** What OpenSSL's own text looks like; none of it may reach stderr. */
const OPENSSL_TEXT = /SSL routines|wrong version number|packet length too long|error:0A/i;

describe('tagpin resolve names the cause of a failed lookup, and the flag that fixes it', () => {
  let pki: Pki;
  let plain: TestRegistry;
  let tls: TestRegistry;
  /** An HTTPS web server (trusted through --ca-file) that answers every path with a 404 page. */
  let web: LocalServer;

  before(async () => {
    pki = await createPki();
    [plain, tls] = await Promise.all([startRegistry('http'), startRegistry('tls', { pki })]);
    await Promise.all([plain.push('demo/app', '1.0', 'oci-manifest'), tls.push('demo/app', '1.0', 'oci-manifest')]);
    const leaf = await pki.issue('web', []);
    web = await startServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<!doctype html><title>Not Found</title>');
    }, { tls: leaf });
  });
  after(async () => {
    await Promise.all([plain.stop(), tls.stop(), web.close()]);
    await removeDir(pki.dir);
  });

  /** Runs `tagpin resolve ARGS…`, expecting exit 1, nothing on stdout and only `expected` on stderr. */
  async function failsWith(args: readonly string[], expected: readonly string[]): Promise<void> {
    const result = await runCli(['resolve', ...args]);
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stdout, '');
    assert.doesNotMatch(result.stderr, OPENSSL_TEXT);
    assert.deepEqual(lines(result.stderr), expected);
  }

  test('a repository the registry lacks and a tag missing from one it has are told apart', async () => {
    const repository = `${plain.host}/demo/nope:1.0`;
    const tag = `${plain.host}/demo/app:2.0`;
    await failsWith(['--insecure-registry', plain.host, repository, tag], [
      `tagpin: ${repository}: repository demo/nope not found in ${plain.host}`,
      `tagpin: ${tag}: tag 2.0 not found in ${plain.host}/demo/app`,
    ]);
  });

  test('a TLS registry named with --insecure-registry speaks HTTPS: drop the flag', async () => {
    const image = `${tls.host}/demo/app:1.0`;
    await failsWith(['--insecure-registry', tls.host, '--ca-file', pki.caFile, image], [
      `tagpin: ${image}: ${tls.host} speaks HTTPS; remove it from --insecure-registry and registries.insecure`,
    ]);
  });

  test('a TLS registry named with --insecure-registry whose CA is not trusted: drop the flag and pass --ca-file', async () => {
    const image = `${tls.host}/demo/app:1.0`;
    await failsWith(['--insecure-registry', tls.host, image], [
      `tagpin: ${image}: ${tls.host} speaks HTTPS; remove it from --insecure-registry and registries.insecure and trust its CA with --ca-file FILE or registries.caFile`,
    ]);
  });

  test('a web server is not a container registry', async () => {
    const image = `${web.host}/demo/app:1.0`;
    await failsWith(['--ca-file', pki.caFile, image], [
      `tagpin: ${image}: ${web.host} is not a container registry (GET /v2/ answered 404 Not Found, text/html)`,
    ]);
  });
});
