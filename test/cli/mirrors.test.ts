// Mirrors from the command line: --mirror HOST=URL and registries.mirrors in the config file, against a real pull-through cache.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPki } from '../support/pki.ts';
import type { Pki } from '../support/pki.ts';
import { closedHost } from '../support/ports.ts';
import { startRegistry, tagpinUserAgent } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { lines, removeDir, runCli, tempDir, writeConfig } from '../support/cli.ts';

describe('tagpin resolve with mirrors', () => {
  let pki: Pki;
  let upstream: TestRegistry;
  let cache: TestRegistry;
  let dir: string;

  before(async () => {
    pki = await createPki();
    upstream = await startRegistry('tls', { pki });
    cache = await startRegistry('http', { pullThrough: upstream });
    dir = await tempDir();
  });
  after(async () => {
    await cache?.stop();
    await upstream?.stop();
    await removeDir(dir);
    await removeDir(pki.dir);
  });

  const tagpinAsked = (registry: TestRegistry): number => registry.manifestRequests({ userAgent: tagpinUserAgent }).length;

  test('--mirror HOST=URL answers from the pull-through cache; the upstream sees no manifest request from tagpin', async () => {
    const pushed = await upstream.push('cli/flag', 'v1', 'oci-index');
    const image = `${upstream.host}/cli/flag:v1`;
    const upstreamBefore = tagpinAsked(upstream);
    const cacheBefore = tagpinAsked(cache);
    const result = await runCli(['resolve', '--ca-file', pki.caFile, '--mirror', `${upstream.host}=${cache.baseUrl}`, image]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${image}\t${image}@${pushed}\n`);
    assert.equal(tagpinAsked(upstream), upstreamBefore);
    assert.ok(tagpinAsked(cache) > cacheBefore);
  });

  test('--mirror adds to registries.mirrors from the config file, after its URLs: a mirror that is down falls back to the next', async () => {
    const pushed = await upstream.push('cli/config', 'v1', 'oci-manifest');
    const image = `${upstream.host}/cli/config:v1`;
    const config = await writeConfig(dir, 'mirrors.yaml', `registries:\n  mirrors:\n    "${upstream.host}": ["http://${await closedHost()}"]\n`);
    const upstreamBefore = tagpinAsked(upstream);
    const result = await runCli(['resolve', '--config', config, '--ca-file', pki.caFile, '--mirror', `${upstream.host}=${cache.baseUrl}`, image]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${image}\t${image}@${pushed}\n`);
    assert.equal(result.stderr, '', "the down mirror's error is not shown");
    assert.equal(tagpinAsked(upstream), upstreamBefore, 'the second mirror answered');
  });

  test('a malformed --mirror is a usage error naming the flag', async () => {
    const result = await runCli(['resolve', '--mirror', `docker.io=${cache.host}`, 'nginx:1.27']);
    assert.equal(result.code, 2);
    assert.deepEqual(lines(result.stderr), [
      `tagpin: --mirror "docker.io=${cache.host}": URL must be an http:// or https:// URL like https://mirror.corp:5000`,
    ]);
  });

  test('a bad registries.mirrors entry stops the command with the key named', async () => {
    const config = await writeConfig(dir, 'bad-mirrors.yaml', 'registries:\n  mirrors:\n    docker.io: ["mirror.corp:5000"]\n');
    const result = await runCli(['resolve', '--config', config, 'nginx:1.27']);
    assert.equal(result.code, 2);
    assert.deepEqual(lines(result.stderr), [
      `tagpin: config ${config}: registries.mirrors[docker.io][0] must be an http:// or https:// URL like https://mirror.corp:5000 (got "mirror.corp:5000")`,
    ]);
  });

  test('--help names the flag', async () => {
    const result = await runCli(['resolve', '--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^ {2}--mirror HOST=URL {16}look HOST's images up at this mirror or pull-through cache first$/m);
  });
});
