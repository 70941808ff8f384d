// The command line itself: help, version, usage and configuration errors, the npx launcher.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { lines, removeDir, runCli, tempDir, writeConfig } from '../support/cli.ts';
import { repoRoot } from '../support/paths.ts';

describe('tagpin command line', () => {
  let dir: string;
  let version: string;

  before(async () => {
    dir = await tempDir();
    ({ version } = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string });
  });
  after(async () => {
    await removeDir(dir);
  });

  const usageErrors: ReadonlyArray<readonly [string, readonly string[], RegExp]> = [
    ['no command', [], /^tagpin: no command given \(see tagpin --help\)$/],
    ['an unknown command', ['deploy'], /^tagpin: unknown command "deploy"/],
    ['an unknown option', ['check', '-f', 'x.yaml', '--strict'], /^tagpin: unknown option --strict \(see tagpin check --help\)$/],
    ['pin without -f', ['pin'], /^tagpin: pin needs at least one -f PATH/],
    ['check without -f', ['check', '-o', 'json'], /^tagpin: check needs at least one -f PATH/],
    ['-f without a value', ['pin', '-f'], /^tagpin: option -f, --filename needs a value/],
    ['resolve without images', ['resolve'], /^tagpin: resolve needs at least one IMAGE/],
    ['an unknown output format', ['resolve', '-o', 'yaml', 'nginx:1.27'], /^tagpin: -o must be text or json \(got "yaml"\)/],
    ['a stray argument', ['pin', '-f', 'a.yaml', 'b.yaml'], /^tagpin: unexpected argument "b.yaml"/],
    ['audit with both -n and -A', ['audit', '-n', 'apps', '-A'], /^tagpin: -n and -A exclude each other: give one \(see tagpin audit --help\)$/],
    ['audit without a cluster', ['audit'], /^tagpin: no cluster to audit: give --kubeconfig FILE, set KUBECONFIG, or run inside a cluster \(see tagpin audit --help\)$/],
    ['audit with an unreadable --kubeconfig', ['audit', '--kubeconfig', '/nonexistent/kubeconfig'], /^tagpin: --kubeconfig file \/nonexistent\/kubeconfig cannot be read: ENOENT$/],
    ['a malformed --insecure-registry', ['resolve', '--insecure-registry', 'http://x/', 'nginx:1.27'], /^tagpin: --insecure-registry "http:\/\/x\/"/],
    [
      'a long option with one dash',
      ['resolve', '-insecure-registry', 'x', 'nginx:1.27'],
      /^tagpin: unknown option -insecure-registry: did you mean --insecure-registry\? \(see tagpin resolve --help\)$/,
    ],
    ['a long option with one dash and a value', ['check', '-f', 'x.yaml', '-output=json'], /^tagpin: unknown option -output: did you mean --output\?/],
    ['an unknown word with one dash', ['check', '-f', 'x.yaml', '-strict'], /^tagpin: unknown option -strict \(see tagpin check --help\)$/],
    ['--allow-empty with one dash', ['pin', '-f', 'x.yaml', '-allow-empty'], /^tagpin: unknown option -allow-empty: did you mean --allow-empty\?/],
  ];
  for (const [what, args, message] of usageErrors) {
    test(`${what} exits 2 with one line`, async () => {
      const result = await runCli(args);
      assert.equal(result.code, 2);
      assert.equal(result.stdout, '');
      assert.equal(lines(result.stderr).length, 1, result.stderr);
      assert.match(lines(result.stderr)[0] ?? '', message);
    });
  }

  test('--help prints the overview and each command its own help, exit 0', async () => {
    const overview = await runCli(['--help']);
    assert.equal(overview.code, 0);
    for (const command of ['serve', 'resolve', 'pin', 'check', 'version']) assert.match(overview.stdout, new RegExp(`tagpin ${command}`));
    assert.match(overview.stdout, /--insecure-registry HOST\[:PORT\]/);
    assert.match(overview.stdout, /Exit codes: 0 ok; 1 /);
    for (const args of [['pin', '--help'], ['help', 'pin'], ['pin', '-h', '--bogus']]) {
      const result = await runCli(args);
      assert.equal(result.code, 0, args.join(' '));
      assert.match(result.stdout, /^Usage: tagpin pin /);
      assert.match(result.stdout, /-w, --write/);
    }
  });

  test('version prints the package version and the Node version', async () => {
    const result = await runCli(['version']);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, `tagpin ${version}\nnode ${process.version}\n`);
  });

  test('the launcher runs on the system Node by re-executing with the Node 24 the project brings', async () => {
    const result = await runCli(['version'], { command: ['/usr/bin/node', join(repoRoot, 'bin', 'tagpin.js')] });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^tagpin ${version.replaceAll('.', '\\.')}\nnode v24\\.`));
  });

  test('npx tagpin version works from the repository root', async () => {
    const result = await runCli(['--no-install', 'tagpin', 'version'], {
      command: ['npx'],
      env: { PATH: `/usr/bin:/bin`, npm_config_update_notifier: 'false' },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^tagpin ${version.replaceAll('.', '\\.')}\nnode v24\\.`));
  });

  test('a config file with a bad value exits 2 naming the key', async () => {
    const config = await writeConfig(dir, 'bad-action.yaml', 'validate:\n  action: block\n');
    const result = await runCli(['check', '--config', config, '-f', '-'], { stdin: '' });
    assert.equal(result.code, 2);
    assert.equal(lines(result.stderr).length, 1, result.stderr);
    assert.match(result.stderr, /^tagpin: .*validate\.action/);
  });

  test('serve with a bad config file exits 2 naming the key, before listening', async () => {
    const config = await writeConfig(dir, 'bad-port.yaml', 'server:\n  port: 0\n');
    const result = await runCli(['serve', '--config', config]);
    assert.equal(result.code, 2);
    assert.equal(lines(result.stderr).length, 1, result.stderr);
    assert.match(result.stderr, /^tagpin: .*server\.port/);
  });

  test('a config file with an unknown key exits 2 naming it, also through $TAGPIN_CONFIG', async () => {
    const config = await writeConfig(dir, 'typo.yaml', 'mutate:\n  enabeld: false\n');
    const result = await runCli(['check', '-f', '-'], { stdin: '', env: { TAGPIN_CONFIG: config } });
    assert.equal(result.code, 2);
    assert.equal(lines(result.stderr).length, 1, result.stderr);
    assert.match(result.stderr, /mutate\.enabeld/);
  });

  test('a missing config file, CA file or docker config exits 2 naming it', async () => {
    const missing = join(dir, 'missing.file');
    for (const args of [
      ['check', '--config', missing, '-f', '-'],
      ['resolve', '--ca-file', missing, 'nginx:1.27'],
      ['resolve', '--docker-config', missing, 'nginx:1.27'],
    ]) {
      const result = await runCli(args);
      assert.equal(result.code, 2, args.join(' '));
      assert.equal(lines(result.stderr).length, 1, result.stderr);
      assert.ok(result.stderr.includes(missing), result.stderr);
    }
  });

  test('a docker config that is not JSON exits 2 naming the file', async () => {
    const dockerConfig = await writeConfig(dir, 'docker.json', '{"auths": ');
    const result = await runCli(['resolve', '--docker-config', dockerConfig, 'nginx:1.27']);
    assert.equal(result.code, 2);
    assert.equal(lines(result.stderr).length, 1, result.stderr);
    assert.ok(result.stderr.includes(dockerConfig), result.stderr);
  });

  test('errors are one line; TAGPIN_DEBUG=1 adds the stack', async () => {
    const missing = join(dir, 'nowhere.yaml');
    const plain = await runCli(['check', '-f', missing]);
    assert.equal(plain.code, 2);
    assert.equal(lines(plain.stderr).length, 1);
    const debug = await runCli(['check', '-f', missing], { env: { TAGPIN_DEBUG: '1' } });
    assert.equal(debug.code, 2);
    assert.equal(lines(debug.stderr)[0], lines(plain.stderr)[0]);
    assert.match(debug.stderr, /\n\s+at /);
  });
});
