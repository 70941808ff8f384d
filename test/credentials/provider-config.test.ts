// A kubelet CredentialProviderConfig is read with kubelet's rules, and every problem names the file and the field.
import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkPluginBinaries, parseGoDuration, parseProviderConfig } from '../../src/credentials/index.ts';
import { ConfigError } from '../../src/errors/index.ts';
import { programDir, provider, removeProgramDir } from '../support/credential-helpers.ts';

const FILE = '/etc/tagpin/credential-providers.yaml';
const config = (...providers: readonly unknown[]): unknown => ({ apiVersion: 'kubelet.config.k8s.io/v1', kind: 'CredentialProviderConfig', providers });

function rejects(document: unknown, message: string | RegExp): void {
  assert.throws(
    () => parseProviderConfig(document, FILE),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      if (typeof message === 'string') assert.equal(error.message, `registries.credentialProviders.config ${FILE}: ${message}`);
      else assert.match(error.message, message);
      assert.equal(error.message.includes('\n'), false);
      return true;
    },
  );
}

describe('parseProviderConfig', () => {
  it('reads the fields kubelet reads, with env added and durations in milliseconds', () => {
    const [ecr] = parseProviderConfig(
      config(
        provider('ecr-credential-provider', ['*.dkr.ecr.*.amazonaws.com', 'registry.io:8080/path'], {
          defaultCacheDuration: '12h',
          args: ['get-credentials', '--v=3'],
          env: [{ name: 'AWS_REGION', value: 'eu-west-1' }],
        }),
      ),
      FILE,
    );
    assert.deepEqual(ecr, {
      name: 'ecr-credential-provider',
      matchImages: ['*.dkr.ecr.*.amazonaws.com', 'registry.io:8080/path'],
      defaultCacheMs: 12 * 3_600_000,
      apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
      args: ['get-credentials', '--v=3'],
      env: { AWS_REGION: 'eu-west-1' },
      field: 'providers[0]',
    });
  });

  it('needs the config apiVersion and kind, and at least one provider', () => {
    rejects({ kind: 'CredentialProviderConfig', providers: [] }, 'apiVersion must be kubelet.config.k8s.io/v1 (got nothing)');
    rejects({ apiVersion: 'kubelet.config.k8s.io/v1alpha1', kind: 'CredentialProviderConfig' }, 'apiVersion must be kubelet.config.k8s.io/v1 (got "kubelet.config.k8s.io/v1alpha1")');
    rejects({ apiVersion: 'kubelet.config.k8s.io/v1', kind: 'KubeletConfiguration' }, 'kind must be CredentialProviderConfig (got "KubeletConfiguration")');
    rejects(config(), 'providers must list at least one provider');
    rejects({ ...(config(provider('a', ['r.io'])) as object), extra: 1 }, 'extra is not a CredentialProviderConfig field (fields: apiVersion, kind, providers)');
    rejects(['not', 'a', 'mapping'], 'the document must be a CredentialProviderConfig mapping');
  });

  it('needs a plain, unique name', () => {
    rejects(config(provider('../bin/sh', ['r.io'])), 'providers[0].name must be the plugin\'s file name, without "/" or spaces (got "../bin/sh")');
    rejects(config(provider('..', ['r.io'])), /providers\[0\]\.name must be the plugin's file name/);
    rejects(config(provider('a b', ['r.io'])), /providers\[0\]\.name must be the plugin's file name/);
    rejects(config({ ...provider('x', ['r.io']), name: undefined }), /providers\[0\]\.name must be the plugin's file name, without "\/" or spaces \(got nothing\)/);
    rejects(config(provider('a', ['r.io']), provider('a', ['s.io'])), 'providers[1].name repeats provider "a"');
  });

  it('needs matchImages patterns that name a host', () => {
    rejects(config(provider('a', [])), 'providers[0].matchImages must list at least one image pattern');
    rejects(config(provider('a', ['r.io', ''])), /^.*providers\[0\]\.matchImages\[1\] must be an image pattern like \*\.dkr\.ecr\.\*\.amazonaws\.com or registry\.io:8080\/path \(got ""\)$/);
    rejects(config(provider('a', [7])), /providers\[0\]\.matchImages\[0\] must be an image pattern .* \(got 7\)$/);
  });

  it('needs defaultCacheDuration, a duration of 0 or more', () => {
    rejects(config({ ...provider('a', ['r.io']), defaultCacheDuration: undefined }), 'providers[0].defaultCacheDuration must be a duration of 0 or more, like 12h, 10m or 0s (got nothing)');
    rejects(config(provider('a', ['r.io'], { defaultCacheDuration: '-1m' })), /defaultCacheDuration must be a duration of 0 or more, .*\(got "-1m"\)$/);
    rejects(config(provider('a', ['r.io'], { defaultCacheDuration: 0 })), /defaultCacheDuration must be a duration .*\(got 0\)$/);
    rejects(config(provider('a', ['r.io'], { defaultCacheDuration: '10 minutes' })), /\(got "10 minutes"\)$/);
    assert.equal(parseProviderConfig(config(provider('a', ['r.io'], { defaultCacheDuration: '0' })), FILE)[0]?.defaultCacheMs, 0);
  });

  it('speaks credentialprovider.kubelet.k8s.io/v1 only', () => {
    rejects(
      config(provider('a', ['r.io'], { apiVersion: 'credentialprovider.kubelet.k8s.io/v1beta1' })),
      'providers[0].apiVersion must be credentialprovider.kubelet.k8s.io/v1 (got "credentialprovider.kubelet.k8s.io/v1beta1")',
    );
  });

  it('checks args and env, refuses tokenAttributes and unknown fields', () => {
    rejects(config(provider('a', ['r.io'], { args: 'get' })), 'providers[0].args must be a list of strings');
    rejects(config(provider('a', ['r.io'], { env: [{ value: 'x' }] })), 'providers[0].env[0] must be {name, value} with a non-empty name and a string value');
    rejects(config(provider('a', ['r.io'], { tokenAttributes: {} })), /^.*providers\[0\]\.tokenAttributes is not supported: tagpin runs plugins for no pod/);
    rejects(config(provider('a', ['r.io'], { matchImage: ['r.io'] })), /providers\[0\]\.matchImage is not a provider field \(fields: name, matchImages,/);
  });
});

describe('parseGoDuration', () => {
  it('reads Go durations as kubelet does', () => {
    assert.equal(parseGoDuration('0'), 0);
    assert.equal(parseGoDuration('0s'), 0);
    assert.equal(parseGoDuration('1m30s'), 90_000);
    assert.equal(parseGoDuration('12h0m0s'), 43_200_000);
    assert.equal(parseGoDuration('1.5h'), 5_400_000);
    assert.equal(parseGoDuration('500ms'), 500);
    assert.equal(parseGoDuration('-1s'), -1000);
    for (const bad of ['', '1', 'h', '1d', '1h 30m', 's1', '1.h2']) assert.equal(parseGoDuration(bad), undefined, bad);
  });
});

describe('checkPluginBinaries', () => {
  let dir: string;
  before(async () => {
    dir = await programDir();
    await writeFile(join(dir, 'present'), '#!/bin/sh\n');
    await chmod(join(dir, 'present'), 0o755);
    await writeFile(join(dir, 'not-executable'), '#!/bin/sh\n');
    await mkdir(join(dir, 'a-directory'));
  });
  after(() => removeProgramDir(dir));

  const setup = (binDir: string, name: string) => ({ file: FILE, binDir, providers: parseProviderConfig(config(provider(name, ['r.io'])), FILE) });

  it('accepts an executable plugin in the directory', async () => {
    await checkPluginBinaries(setup(dir, 'present'));
  });

  it('names the directory, the provider and the config file when the plugin is missing or not executable', async () => {
    for (const name of ['absent', 'not-executable', 'a-directory']) {
      await assert.rejects(checkPluginBinaries(setup(dir, name)), {
        name: 'ConfigError',
        message: `registries.credentialProviders.binDir ${dir}: no executable ${name} for providers[0] of ${FILE}; install the plugin there or remove the provider`,
      });
    }
  });

  it('says so when binDir is no directory', async () => {
    await assert.rejects(checkPluginBinaries(setup(join(dir, 'present'), 'present')), {
      message: `registries.credentialProviders.binDir ${join(dir, 'present')}: not a directory; point it at the directory holding the plugins`,
    });
  });
});
