// `tagpin check`: verdicts per image, output formats and exit codes, with no registry contact.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { copyFixture, escapeRegExp, fixtureText, lines, removeDir, runCli, tempDir, writeConfig } from '../support/cli.ts';

describe('tagpin check', () => {
  let dir: string;
  let policy: string;
  /** A listener standing in for a registry: check must never connect to it. */
  let listener: Server;
  let connections = 0;
  let host: string;

  before(async () => {
    dir = await tempDir();
    listener = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((done) => listener.listen(0, '127.0.0.1', done));
    const address = listener.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    host = `127.0.0.1:${String(address.port)}`;
    policy = await copyFixture('policy.yaml', dir, host);
  });
  after(async () => {
    await new Promise<void>((done) => listener.close(() => { done(); }));
    await removeDir(dir);
  });

  test('-o json reports every image with its verdict and normalized parts, and exits 1 under deny', async () => {
    const result = await runCli(['check', '-o', 'json', '-f', policy, '--insecure-registry', host]);
    assert.equal(result.stderr, '');
    assert.equal(result.code, 1);
    const records = JSON.parse(result.stdout) as Array<Record<string, unknown>>;
    const pinnedDigest = `sha256:${'0123456789abcdef'.repeat(4)}`;
    const web = { file: policy, kind: 'Deployment', namespace: 'demo', name: 'web' };
    const withoutReason = records.map(({ reason, ...rest }) => {
      assert.ok(rest.verdict === 'ok' ? reason === null : typeof reason === 'string' && reason !== '', `reason of ${String(rest.path)}`);
      return rest;
    });
    assert.deepEqual(withoutReason, [
      { ...web, line: 15, path: '/spec/template/spec/containers/0/image', image: 'nginx', registry: 'docker.io', repository: 'library/nginx', tag: null, digest: null, verdict: 'violation' },
      { ...web, line: 17, path: '/spec/template/spec/containers/1/image', image: 'nginx:latest', registry: 'docker.io', repository: 'library/nginx', tag: 'latest', digest: null, verdict: 'violation' },
      { ...web, line: 19, path: '/spec/template/spec/containers/2/image', image: 'nginx:1.27', registry: 'docker.io', repository: 'library/nginx', tag: '1.27', digest: null, verdict: 'ok' },
      { ...web, line: 21, path: '/spec/template/spec/containers/3/image', image: `${host}/demo/app:v1@${pinnedDigest}`, registry: host, repository: 'demo/app', tag: 'v1', digest: pinnedDigest, verdict: 'ok' },
      { ...web, line: 12, path: '/spec/template/spec/initContainers/0/image', image: 'Busybox:1.36', registry: null, repository: null, tag: null, digest: null, verdict: 'invalid' },
      { file: policy, line: 31, kind: 'Pod', namespace: 'kube-system', name: 'system-agent', path: '/spec/containers/0/image', image: 'nginx:latest', registry: 'docker.io', repository: 'library/nginx', tag: 'latest', digest: null, verdict: 'excluded' },
      { file: policy, line: 42, kind: 'Job', namespace: null, name: 'numbers', path: '/spec/template/spec/containers/0/image', image: null, registry: null, repository: null, tag: null, digest: null, verdict: 'invalid' },
    ]);
    assert.match(String(records[1]?.reason), /latest/);
    assert.equal(connections, 0);
  });

  test('text output has one line per image, FILE:LINE KIND/NAME PATH IMAGE VERDICT REASON, and a summary', async () => {
    const result = await runCli(['check', '-f', policy]);
    assert.equal(result.code, 1);
    const output = lines(result.stdout);
    assert.equal(output.length, 8);
    assert.match(output[1] ?? '', new RegExp(`^${escapeRegExp(policy)}:17 Deployment/web /spec/template/spec/containers/1/image nginx:latest violation .*latest`));
    assert.equal(output[2], `${policy}:19 Deployment/web /spec/template/spec/containers/2/image nginx:1.27 ok`);
    assert.match(output[5] ?? '', new RegExp(`^${escapeRegExp(policy)}:31 Pod/system-agent /spec/containers/0/image nginx:latest excluded .*kube-system`));
    assert.match(output[6] ?? '', new RegExp(`^${escapeRegExp(policy)}:42 Job/numbers .* 42 invalid .*not a string`));
    assert.equal(output[7], '7 images in 1 file: 2 ok, 2 violations, 2 invalid, 1 excluded');
    assert.equal(connections, 0);
  });

  test('with validate.action warn or audit, verdicts are reported but the exit code is 0', async () => {
    for (const action of ['warn', 'audit']) {
      const config = await writeConfig(dir, `${action}.yaml`, `validate:\n  action: ${action}\n`);
      const result = await runCli(['check', '--config', config, '-f', policy]);
      assert.equal(result.code, 0, `${action}: ${result.stderr}`);
      assert.match(result.stdout, / violation /);
      assert.match(result.stdout, new RegExp(`\\(validate\\.action is ${action}: not failing\\)\\n$`));
    }
  });

  test('the policy comes from the config file: requireDigest makes tagged images violations', async () => {
    const config = await writeConfig(dir, 'require-digest.yaml', 'validate:\n  requireDigest: true\n');
    const result = await runCli(['check', '--config', config, '-o', 'json', '-f', policy]);
    const records = JSON.parse(result.stdout) as Array<{ image: string | null; verdict: string }>;
    assert.equal(records.find((record) => record.image === 'nginx:1.27')?.verdict, 'violation');
  });

  test('manifests whose images all pass exit 0', async () => {
    const result = await runCli(['check', '-f', await copyFixture('clean.yaml', dir, host)]);
    assert.equal(result.code, 0, result.stdout);
    assert.match(result.stdout, /2 images in 1 file: 2 ok, 0 violations, 0 invalid, 0 excluded\n$/);
  });

  test('reads stdin with -f - and a directory recursively', async () => {
    const fromStdin = await runCli(['check', '-o', 'json', '-f', '-'], { stdin: await fixtureText('policy.yaml', host) });
    const records = JSON.parse(fromStdin.stdout) as Array<{ file: string }>;
    assert.equal(records.length, 7);
    assert.ok(records.every((record) => record.file === '<stdin>'));

    const tree = await copyFixture('tree', join(dir, 'tree-check'), host);
    const fromTree = await runCli(['check', '-o', 'json', '-f', tree]);
    assert.equal(fromTree.code, 0, fromTree.stderr);
    const files = (JSON.parse(fromTree.stdout) as Array<{ file: string }>).map((record) => record.file);
    assert.deepEqual(files, [join(tree, 'apps/migrate.yml'), join(tree, 'apps/web.yaml'), join(tree, 'cron.json')]);
  });

  test('input that is not YAML exits 2 with file and line', async () => {
    const broken = await copyFixture('broken.yaml', dir, host);
    const result = await runCli(['check', '-f', broken]);
    assert.equal(result.code, 2);
    assert.equal(lines(result.stderr).length, 1);
    assert.ok(result.stderr.startsWith(`tagpin: ${broken}:9: `), result.stderr);
  });
});
