// `tagpin resolve` and `pin` get credentials from docker credential helpers and kubelet credential provider plugins.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { helperLogin, pathWith, programDir, provider, providerLogin, removeProgramDir, writeProgram, writeProviderConfig } from '../support/credential-helpers.ts';
import { copyFixture, lines, removeDir, runCli, tempDir, writeConfig } from '../support/cli.ts';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';

describe('the CLI with credential programs', () => {
  let registry: TestRegistry;
  let dir: string;
  let bin: string;
  const digests = new Map<string, string>();

  before(async () => {
    registry = await startRegistry('basic');
    for (const [repository, tag] of [['demo/app', 'v1'], ['demo/web', '1.0'], ['demo/api', 'v2']] as const) {
      digests.set(`${repository}:${tag}`, await registry.push(repository, tag, 'oci-manifest'));
    }
    dir = await tempDir();
    bin = await programDir();
  });
  after(async () => {
    await registry?.stop();
    await removeDir(dir);
    await removeProgramDir(bin);
  });

  const trust = (): string[] => {
    assert.ok(registry.pki !== undefined);
    return ['--ca-file', registry.pki.caFile];
  };
  const pinned = (repositoryTag: string): string => `${registry.host}/${repositoryTag}@${digests.get(repositoryTag) ?? '?'}`;

  /** A DOCKER_CONFIG directory whose config.json is `document`. */
  async function dockerConfigDir(name: string, document: unknown): Promise<string> {
    const config = join(dir, name);
    await mkdir(config, { recursive: true });
    await writeFile(join(config, 'config.json'), JSON.stringify(document));
    return config;
  }

  it('resolve runs the credHelpers helper of docker\'s config.json once for all its images', async () => {
    const helper = await writeProgram(bin, 'docker-credential-cli-test', { default: helperLogin(registry) });
    const config = await dockerConfigDir('helpers', { credHelpers: { [registry.host]: 'cli-test' } });
    const images = ['demo/app:v1', 'demo/web:1.0', 'demo/api:v2'].map((image) => `${registry.host}/${image}`);
    const result = await runCli(['resolve', ...trust(), ...images], { env: { DOCKER_CONFIG: config, PATH: pathWith(bin) } });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(lines(result.stdout), ['demo/app:v1', 'demo/web:1.0', 'demo/api:v2'].map((image) => `${registry.host}/${image}\t${pinned(image)}`));
    assert.deepEqual(helper.runs().map((run) => run.input), [registry.host]);
  });

  it('resolve asks credsStore for a registry of ~/.docker/config.json without an auths login', async () => {
    await writeProgram(bin, 'docker-credential-cli-store', { default: helperLogin(registry) });
    const home = join(dir, 'home');
    await mkdir(join(home, '.docker'), { recursive: true });
    await writeFile(join(home, '.docker', 'config.json'), JSON.stringify({ auths: { [registry.host]: {} }, credsStore: 'cli-store' }));
    const result = await runCli(['resolve', ...trust(), `${registry.host}/demo/app:v1`], { env: { HOME: home, DOCKER_CONFIG: '', PATH: pathWith(bin) } });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(lines(result.stdout), [`${registry.host}/demo/app:v1\t${pinned('demo/app:v1')}`]);
  });

  it('a helper that is not on PATH fails the image with one line naming it and the setting to remove', async () => {
    const config = await dockerConfigDir('absent', { credHelpers: { [registry.host]: 'not-installed' } });
    const file = join(config, 'config.json');
    const result = await runCli(['resolve', ...trust(), `${registry.host}/demo/app:v1`], { env: { DOCKER_CONFIG: config, PATH: pathWith(bin) } });
    assert.equal(result.code, 1);
    assert.deepEqual(lines(result.stderr), [
      `tagpin: ${registry.host}/demo/app:v1: docker-credential-not-installed not found on PATH; install it or remove credHelpers["${registry.host}"] from ${file}`,
    ]);
  });

  it('a helper name that is a path stops the command before any lookup (exit 2)', async () => {
    const config = await dockerConfigDir('bad-name', { credsStore: '/bin/sh' });
    const result = await runCli(['resolve', ...trust(), `${registry.host}/demo/app:v1`], { env: { DOCKER_CONFIG: config } });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^tagpin: docker config .*config\.json: credsStore must name a credential helper: letters, digits/);
    assert.equal(lines(result.stderr).length, 1);
  });

  it('says in --help that the docker config\'s helpers run from PATH', async () => {
    const result = await runCli(['resolve', '--help']);
    assert.match(result.stdout, /its credHelpers\/credsStore run docker-credential-NAME from PATH/);
  });

  it('pin uses registries.credentialProviders: one plugin run for every image of the registry', async () => {
    const plugin = await writeProgram(bin, 'cli-provider', { default: providerLogin(registry, { cacheKeyType: 'Registry' }) });
    const providers = await writeProviderConfig(bin, [provider('cli-provider', [registry.host])]);
    const configFile = await writeConfig(dir, 'providers.yaml', `registries:\n  credentialProviders: {config: ${providers}, binDir: ${bin}}\n`);
    const manifest = await copyFixture('deployment.json', dir, registry.host);
    const empty = join(dir, 'no-docker');
    await mkdir(empty, { recursive: true });
    const result = await runCli(['pin', '--config', configFile, ...trust(), '-f', manifest], { env: { HOME: empty, DOCKER_CONFIG: '' } });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(result.stdout.includes(`"image": "${pinned('demo/app:v1')}"`), result.stdout);
    assert.ok(result.stdout.includes(`"image": "${pinned('demo/web:1.0')}"`), result.stdout);
    assert.equal(plugin.runs().length, 1);
  });

  it('a credential provider config with a bad field stops the command naming the file and the field (exit 2)', async () => {
    const providers = await writeProviderConfig(bin, [provider('cli-provider', [registry.host], { defaultCacheDuration: '1 day' })]);
    const configFile = await writeConfig(dir, 'bad-providers.yaml', `registries:\n  credentialProviders: {config: ${providers}, binDir: ${bin}}\n`);
    const result = await runCli(['resolve', '--config', configFile, ...trust(), `${registry.host}/demo/app:v1`]);
    assert.equal(result.code, 2);
    assert.deepEqual(lines(result.stderr), [
      `tagpin: registries.credentialProviders.config ${providers}: providers[0].defaultCacheDuration must be a duration of 0 or more, like 12h, 10m or 0s (got "1 day")`,
    ]);
  });
});
