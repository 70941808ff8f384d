// `tagpin resolve` against real registries: output formats, failures, and the registry flags.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPki } from '../support/pki.ts';
import type { Pki } from '../support/pki.ts';
import { settledHandshakeErrors, startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { escapeRegExp, lines, removeDir, runCli, tempDir, writeConfig } from '../support/cli.ts';
import { writeDockerConfig } from '../support/docker-config.ts';
import { closedHost } from '../support/ports.ts';
import { startSilentServer } from '../support/servers.ts';

describe('tagpin resolve over plain HTTP', () => {
  let registry: TestRegistry;
  let dir: string;
  let app: string;
  let web: string;

  before(async () => {
    registry = await startRegistry('http');
    dir = await tempDir();
    await registry.push('demo/app', 'v1', 'oci-index');
    await registry.push('demo/web', '1.0', 'docker-manifest');
    app = `${registry.host}/demo/app:v1`;
    web = `${registry.host}/demo/web:1.0`;
  });
  after(async () => {
    await registry.stop();
    await removeDir(dir);
  });

  test('prints IMAGE<TAB>PINNED per image with the digest the registry reports', async () => {
    const result = await runCli(['resolve', '--insecure-registry', registry.host, app, web]);
    assert.equal(result.stderr, '');
    assert.equal(result.code, 0);
    assert.deepEqual(lines(result.stdout), [
      `${app}\t${app}@${await registry.digest('demo/app', 'v1')}`,
      `${web}\t${web}@${await registry.digest('demo/web', '1.0')}`,
    ]);
  });

  test('-o json gives image, pinned, digest, registry, repository and tag', async () => {
    const result = await runCli(['resolve', '-o', 'json', '--insecure-registry', registry.host, app]);
    assert.equal(result.code, 0, result.stderr);
    const digest = await registry.digest('demo/app', 'v1');
    assert.deepEqual(JSON.parse(result.stdout), [
      { image: app, pinned: `${app}@${digest}`, digest, registry: registry.host, repository: 'demo/app', tag: 'v1' },
    ]);
  });

  test('an image that already carries a digest resolves to itself without a lookup', async () => {
    const digest = await registry.digest('demo/app', 'v1');
    const pinned = `${registry.host}/demo/app:v1@${digest}`;
    const digestOnly = `${registry.host}/demo/app@${digest}`;
    const before = registry.manifestRequests().length;
    const result = await runCli(['resolve', '-o', 'json', '--insecure-registry', registry.host, pinned, digestOnly]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), [
      { image: pinned, pinned, digest, registry: registry.host, repository: 'demo/app', tag: 'v1' },
      { image: digestOnly, pinned: digestOnly, digest, registry: registry.host, repository: 'demo/app', tag: null },
    ]);
    assert.equal(registry.manifestRequests().length, before);
  });

  test('mutate.output digest drops the tag from the pinned form', async () => {
    const config = await writeConfig(dir, 'digest-output.yaml', 'mutate:\n  output: digest\n');
    const result = await runCli(['resolve', '--config', config, '--insecure-registry', registry.host, app]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${app}\t${registry.host}/demo/app@${await registry.digest('demo/app', 'v1')}\n`);
  });

  test('registries.insecure in the config file works like --insecure-registry', async () => {
    const config = await writeConfig(dir, 'insecure.yaml', `registries:\n  insecure: ["${registry.host}"]\n`);
    const result = await runCli(['resolve', '--config', config, web]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${web}\t${web}@${await registry.digest('demo/web', '1.0')}\n`);
  });

  test('a missing tag exits 1 with one stderr line naming the image, the registry and the cause', async () => {
    const missing = `${registry.host}/demo/app:1.99`;
    const result = await runCli(['resolve', '--insecure-registry', registry.host, missing, web]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, `${web}\t${web}@${await registry.digest('demo/web', '1.0')}\n`);
    const [line, ...rest] = lines(result.stderr);
    assert.deepEqual(rest, []);
    assert.match(line ?? '', new RegExp(`^tagpin: ${escapeRegExp(missing)}: `));
    assert.ok(line?.includes(registry.host), line);
    assert.match(line ?? '', /not found/);
  });

  test('-o json lists failed images too, in argument order, with the error code and the stderr message', async () => {
    const missing = `${registry.host}/demo/app:1.99`;
    const invalid = `${registry.host}/demo/App:v1`;
    const result = await runCli(['resolve', '-o', 'json', '--insecure-registry', registry.host, missing, web, invalid]);
    assert.equal(result.code, 1);
    const records = JSON.parse(result.stdout) as Array<Record<string, unknown>>;
    const digest = await registry.digest('demo/web', '1.0');
    const messages = lines(result.stderr).map((line) => line.replace(/^tagpin: /, ''));
    assert.equal(messages.length, 2, result.stderr);
    assert.deepEqual(records, [
      { image: missing, error: { code: 'REGISTRY_NOT_FOUND', message: messages[0] } },
      { image: web, pinned: `${web}@${digest}`, digest, registry: registry.host, repository: 'demo/web', tag: '1.0' },
      { image: invalid, error: { code: 'INVALID_REFERENCE', message: messages[1] } },
    ]);
  });

  test('an untagged image is looked up as latest, and a note on stderr says so', async () => {
    await registry.push('demo/plain', 'latest', 'oci-manifest');
    const untagged = `${registry.host}/demo/plain`;
    const result = await runCli(['resolve', '--insecure-registry', registry.host, untagged]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${untagged}\t${untagged}@${await registry.digest('demo/plain', 'latest')}\n`);
    assert.equal(result.stderr, `tagpin: note: ${untagged} has no tag; resolved tag latest\n`);
  });

  test('plain HTTP is used only for registries named insecure', async () => {
    const before = registry.requests().length;
    const result = await runCli(['resolve', ...allowLoopback, app]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    // Spoken to over TLS, the plain registry cannot answer: no HTTP request reached it. OpenSSL's
    // "wrong version number" becomes the cause and the flag that fixes it.
    assert.deepEqual(lines(result.stderr), [`tagpin: ${app}: ${registry.host} speaks plain HTTP; add --insecure-registry ${registry.host}`]);
    assert.deepEqual(registry.requests().slice(before), []);
  });

  test('a registry nobody listens on exits 1 naming it, without a stack trace', async () => {
    const host = await closedHost();
    const image = `${host}/demo/app:v1`;
    const result = await runCli(['resolve', '--insecure-registry', host, image]);
    assert.equal(result.code, 1);
    assert.equal(lines(result.stderr).length, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`^tagpin: ${escapeRegExp(image)}: .*${escapeRegExp(host)}`));
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  });

  test('a registry that never answers fails at resolve.timeoutMs, naming the timeout for each image', async () => {
    const silent = await startSilentServer();
    try {
      const host = silent.host;
      const config = await writeConfig(dir, 'short-timeout.yaml', `resolve:\n  timeoutMs: 300\nregistries:\n  insecure: ["${host}"]\n`);
      const result = await runCli(['resolve', '--config', config, `${host}/demo/app:v1`, `${host}/demo/web:1.0`]);
      assert.equal(result.code, 1);
      assert.equal(lines(result.stderr).length, 2, result.stderr);
      for (const line of lines(result.stderr)) assert.match(line, new RegExp(`^tagpin: ${escapeRegExp(host)}/demo/\\S+: timed out after \\d+ ms looking up `));
      // The registry was asked and never answered. How many requests it saw depends on timing: the
      // second lookup waits for the first one's answer (one challenge per origin) and asks itself
      // only if its own budget outlives the first one's.
      assert.ok(silent.asked() >= 1, 'the registry was asked');
    } finally {
      await silent.close();
    }
  });

  test('an invalid reference exits 1 with the rule it breaks', async () => {
    const result = await runCli(['resolve', '--insecure-registry', registry.host, `${registry.host}/demo/App:v1`, web]);
    assert.equal(result.code, 1);
    assert.equal(lines(result.stdout).length, 1);
    assert.equal(lines(result.stderr).length, 1, result.stderr);
    assert.match(result.stderr, /^tagpin: invalid image reference ".*demo\/App:v1": .*lowercase/);
  });
});

describe('tagpin resolve over TLS and with credentials', () => {
  let pki: Pki;
  let tls: TestRegistry;
  let basic: TestRegistry;
  let token: TestRegistry;
  let dir: string;

  before(async () => {
    pki = await createPki();
    [tls, basic, token] = await Promise.all([
      startRegistry('tls', { pki }),
      startRegistry('basic', { pki }),
      startRegistry('token', { pki }),
    ]);
    await Promise.all([
      tls.push('demo/app', 'v1', 'docker-list'),
      basic.push('demo/app', 'v1', 'oci-manifest'),
      token.push('demo/app', 'v1', 'oci-index'),
      token.push('public/app', 'v1', 'docker-manifest'),
    ]);
    dir = await tempDir();
  });
  after(async () => {
    await Promise.all([tls.stop(), basic.stop(), token.stop()]);
    await removeDir(dir);
    await removeDir(pki.dir);
  });

  test('--ca-file makes a registry signed by a private CA trusted', async () => {
    const image = `${tls.host}/demo/app:v1`;
    const result = await runCli(['resolve', ...allowLoopback, '--ca-file', pki.caFile, image]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${image}\t${image}@${await tls.digest('demo/app', 'v1')}\n`);
  });

  test('without --ca-file the private CA is not trusted: the handshake fails and no request is sent', async () => {
    const image = `${tls.host}/demo/app:v1`;
    const before = { requests: tls.requests().length, handshakes: (await settledHandshakeErrors(tls)).length };
    const result = await runCli(['resolve', ...allowLoopback, image]);
    assert.equal(result.code, 1);
    assert.equal(lines(result.stderr).length, 1, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(`^tagpin: ${escapeRegExp(image)}: the certificate of ${escapeRegExp(tls.host)} is signed by an unknown authority; trust its CA with --ca-file FILE or registries\\.caFile\n$`),
    );
    // The registry saw the connection break off in the handshake, once (TLS errors are not retried), and no request.
    assert.equal((await settledHandshakeErrors(tls)).length, before.handshakes + 1);
    assert.deepEqual(tls.requests().slice(before.requests), []);
  });

  test('--docker-config supplies Basic credentials', async () => {
    const image = `${basic.host}/demo/app:v1`;
    const dockerConfig = await writeDockerConfig(dir, { [basic.host]: { username: basic.username ?? '', password: basic.password ?? '' } });
    const result = await runCli(['resolve', ...allowLoopback, '--ca-file', pki.caFile, '--docker-config', dockerConfig, image]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${image}\t${image}@${await basic.digest('demo/app', 'v1')}\n`);
  });

  test('without credentials a Basic registry is unauthorized', async () => {
    const image = `${basic.host}/demo/app:v1`;
    const result = await runCli(['resolve', ...allowLoopback, '--ca-file', pki.caFile, image]);
    assert.equal(result.code, 1);
    assert.equal(lines(result.stderr).length, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`^tagpin: ${escapeRegExp(image)}: .*unauthorized.*${escapeRegExp(basic.host)}`, 'i'));
  });

  test('wrong credentials are reported as rejected, and the password never printed', async () => {
    const image = `${basic.host}/demo/app:v1`;
    const dockerConfig = await writeDockerConfig(dir, { [basic.host]: { username: basic.username ?? '', password: 'not-the-password' } });
    const result = await runCli(['resolve', ...allowLoopback, '--ca-file', pki.caFile, '--docker-config', dockerConfig, image]);
    assert.equal(result.code, 1);
    assert.equal(lines(result.stderr).length, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`^tagpin: ${escapeRegExp(image)}: .*${escapeRegExp(basic.host)}`));
    assert.ok(!result.stderr.includes('not-the-password'));
    assert.ok(!result.stderr.includes(Buffer.from(`${basic.username ?? ''}:not-the-password`).toString('base64')));
  });

  test('--docker-config credentials are exchanged for a bearer token', async () => {
    const image = `${token.host}/demo/app:v1`;
    const dockerConfig = await writeDockerConfig(dir, { [token.host]: { username: token.username ?? '', password: token.password ?? '' } });
    const result = await runCli(['resolve', ...allowLoopback, '--ca-file', pki.caFile, '--docker-config', dockerConfig, image]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${image}\t${image}@${await token.digest('demo/app', 'v1')}\n`);
    assert.ok(token.tokenRequests().some((request) => request.authenticated && request.scope === 'repository:demo/app:pull'));
  });

  test('anonymous bearer tokens reach public repositories but not private ones', async () => {
    const open = `${token.host}/public/app:v1`;
    const closed = `${token.host}/demo/app:v1`;
    const result = await runCli(['resolve', ...allowLoopback, '--ca-file', pki.caFile, open, closed]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, `${open}\t${open}@${await token.digest('public/app', 'v1')}\n`);
    assert.equal(lines(result.stderr).length, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`^tagpin: ${escapeRegExp(closed)}: .*${escapeRegExp(token.host)}`));
  });
});

/** The test registries and their token realm live on loopback, which the address guard opens only to listed hosts. */
const allowLoopback: readonly string[] = ['--allow-registry', '127.0.0.1'];

