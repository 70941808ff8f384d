// The CLI finds credentials where docker keeps them when no --docker-config is given.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { lines, removeDir, runCli, tempDir } from '../support/cli.ts';

describe('tagpin resolve and docker\'s own config.json', () => {
  let registry: TestRegistry;
  let dir: string;
  let image: string;
  let digest: string;
  let auth: string;

  before(async () => {
    registry = await startRegistry('basic');
    assert.ok(registry.username !== undefined && registry.password !== undefined && registry.pki !== undefined);
    digest = await registry.push('private/app', 'v1', 'oci-manifest');
    image = `${registry.host}/private/app:v1`;
    auth = JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${registry.username}:${registry.password}`).toString('base64') } } });
    dir = await tempDir();
  });
  after(async () => {
    await registry?.stop();
    await removeDir(dir);
  });

  async function resolveWith(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    assert.ok(registry.pki !== undefined);
    return runCli(['resolve', '--ca-file', registry.pki.caFile, '--allow-registry', '127.0.0.1', image], { env });
  }

  it('reads ~/.docker/config.json when neither --docker-config nor DOCKER_CONFIG is given', async () => {
    const home = join(dir, 'home');
    await mkdir(join(home, '.docker'), { recursive: true });
    await writeFile(join(home, '.docker', 'config.json'), auth);
    // An empty DOCKER_CONFIG counts as unset, as it does for docker.
    const result = await resolveWith({ HOME: home, DOCKER_CONFIG: '' });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(lines(result.stdout), [`${image}\t${image}@${digest}`]);
  });

  it('reads $DOCKER_CONFIG/config.json instead when DOCKER_CONFIG is set', async () => {
    const home = join(dir, 'empty-home');
    const config = join(dir, 'docker-elsewhere');
    await mkdir(home, { recursive: true });
    await mkdir(config, { recursive: true });
    await writeFile(join(config, 'config.json'), auth);
    const result = await resolveWith({ HOME: home, DOCKER_CONFIG: config });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(lines(result.stdout), [`${image}\t${image}@${digest}`]);
  });

  it('without any docker config the private image is refused as unauthorized', async () => {
    const home = join(dir, 'no-docker');
    await mkdir(home, { recursive: true });
    const result = await resolveWith({ HOME: home, DOCKER_CONFIG: '' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /unauthorized/);
  });

  it('says so in --help', async () => {
    const result = await runCli(['resolve', '--help']);
    assert.match(result.stdout, /\$DOCKER_CONFIG\/config\.json, else ~\/\.docker\/config\.json/);
  });
});
