// The address guard from the command line: loopback registries need --allow-registry or --insecure-registry.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPki } from '../support/pki.ts';
import type { Pki } from '../support/pki.ts';
import { portOf } from '../support/ports.ts';
import { settledHandshakeErrors, startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { lines, removeDir, runCli, tempDir, writeConfig } from '../support/cli.ts';

describe('tagpin resolve and the address guard', () => {
  let pki: Pki;
  let secure: TestRegistry;
  let dir: string;
  let image: string;

  before(async () => {
    pki = await createPki();
    secure = await startRegistry('tls', { pki });
    await secure.push('demo/app', 'v1', 'oci-index');
    image = `${secure.host}/demo/app:v1`;
    dir = await tempDir();
  });
  after(async () => {
    await secure.stop();
    await removeDir(dir);
    await removeDir(pki.dir);
  });

  /** Runs `args`, and asserts that the registry saw neither a request nor a connection (a failed handshake) meanwhile. */
  async function withoutContact(args: readonly string[]): Promise<Awaited<ReturnType<typeof runCli>>> {
    const before = { requests: secure.requests().length, handshakes: (await settledHandshakeErrors(secure)).length };
    const result = await runCli(args);
    assert.deepEqual(secure.requests().slice(before.requests), [], 'requests reached the registry');
    assert.equal((await settledHandshakeErrors(secure)).length, before.handshakes, 'a connection reached the registry');
    return result;
  }

  test('reaches an HTTPS registry on loopback with no flag: the CLI user names the registries', async () => {
    const result = await runCli(['resolve', '--ca-file', pki.caFile, image]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${image}\t${image}@${await secure.digest('demo/app', 'v1')}\n`);
  });

  test('refuses a link-local or metadata address without contacting it, naming --allow-registry', async () => {
    const metadata = `169.254.169.254:${portOf(secure.host)}/demo/app:v1`;
    const result = await withoutContact(['resolve', '--ca-file', pki.caFile, metadata]);
    assert.equal(result.code, 1);
    assert.deepEqual(lines(result.stderr), [
      `tagpin: ${metadata}: refusing to contact 169.254.169.254:${portOf(secure.host)}: 169.254.169.254 is a link-local or cloud metadata address (pass --allow-registry HOST (this run then contacts only the listed registries) to trust it)`,
    ]);
  });

  test('--allow-registry opens the host on every port', async () => {
    const result = await runCli(['resolve', '--allow-registry', '127.0.0.1', '--ca-file', pki.caFile, image]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${image}\t${image}@${await secure.digest('demo/app', 'v1')}\n`);
  });

  test('--allow-registry adds to registries.allow from the config file', async () => {
    const config = await writeConfig(dir, 'allow-other.yaml', 'registries:\n  allow: ["*.example.com"]\n');
    const result = await runCli(['resolve', '--config', config, '--allow-registry', '127.0.0.1', '--ca-file', pki.caFile, image]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${image}\t${image}@${await secure.digest('demo/app', 'v1')}\n`);
  });

  test('once an allow list exists, a registry it does not name is not contacted', async () => {
    const result = await withoutContact(['resolve', '--allow-registry', '*.example.com', '--ca-file', pki.caFile, image]);
    assert.equal(result.code, 1);
    assert.deepEqual(lines(result.stderr), [
      `tagpin: ${image}: registry ${secure.host} is not listed in registries.allow or --allow-registry, so it is not contacted`,
    ]);
  });

  test('a malformed --allow-registry is a usage error naming the flag', async () => {
    const result = await runCli(['resolve', '--allow-registry', 'https://registry.example.com/', image]);
    assert.equal(result.code, 2);
    assert.deepEqual(lines(result.stderr), [
      'tagpin: --allow-registry "https://registry.example.com/": must be a host glob like *.example.com or 127.0.0.1:5000',
    ]);
  });

  test('reaches localhost with no flag too', async () => {
    const local = `localhost:${portOf(secure.host)}/demo/app:v1`;
    const result = await runCli(['resolve', '--ca-file', pki.caFile, local]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${local}\t${local}@${await secure.digest('demo/app', 'v1')}\n`);
  });
});
