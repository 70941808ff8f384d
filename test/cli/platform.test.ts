// `--platform`: resolve and pin a multi-platform image to one platform's manifest, the one skopeo picks.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { lines, removeDir, runCli, tempDir } from '../support/cli.ts';
import { createPki } from '../support/pki.ts';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { skopeoPlatformDigest } from '../support/skopeo.ts';

describe('tagpin resolve and pin with --platform', () => {
  let registry: TestRegistry;
  let secure: TestRegistry;
  let dir: string;
  let oci: string;
  let docker: string;
  let single: string;

  before(async () => {
    const pki = await createPki();
    [registry, secure] = await Promise.all([startRegistry('http'), startRegistry('tls', { pki })]);
    dir = await tempDir();
    await Promise.all([
      registry.push('multi/oci', 'v1', 'oci-index'),
      registry.push('multi/docker', 'v1', 'docker-list'),
      registry.push('single/app', 'v1', 'oci-manifest'),
      secure.push('multi/oci', 'v2', 'oci-index'),
    ]);
    oci = `${registry.host}/multi/oci:v1`;
    docker = `${registry.host}/multi/docker:v1`;
    single = `${registry.host}/single/app:v1`;
  });
  after(async () => {
    await Promise.all([registry.stop(), secure.stop()]);
    await removeDir(dir);
  });

  const resolve = (platform: string, ...images: string[]) =>
    runCli(['resolve', '--insecure-registry', registry.host, '--platform', platform, ...images]);

  for (const platform of ['linux/amd64', 'linux/arm64']) {
    test(`pins an OCI index and a Docker manifest list to the ${platform} manifest skopeo picks`, async () => {
      const result = await resolve(platform, oci, docker);
      assert.equal(result.stderr, '');
      assert.equal(result.code, 0);
      assert.deepEqual(lines(result.stdout), [
        `${oci}\t${oci}@${await skopeoPlatformDigest(registry, 'multi/oci', 'v1', platform)}`,
        `${docker}\t${docker}@${await skopeoPlatformDigest(registry, 'multi/docker', 'v1', platform)}`,
      ]);
    });
  }

  test('arm64 is arm64/v8 and the architecture aliases fold (aarch64), as containerd compares them', async () => {
    const expected = await skopeoPlatformDigest(registry, 'multi/oci', 'v1', 'linux/arm64');
    for (const platform of ['linux/arm64/v8', 'Linux/AArch64']) {
      const result = await resolve(platform, oci);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(lines(result.stdout)[0], `${oci}\t${oci}@${expected}`, platform);
    }
  });

  test('without --platform the index digest stays the answer', async () => {
    const result = await runCli(['resolve', '--insecure-registry', registry.host, oci]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(lines(result.stdout)[0], `${oci}\t${oci}@${await registry.digest('multi/oci', 'v1')}`);
    assert.notEqual(await registry.digest('multi/oci', 'v1'), await skopeoPlatformDigest(registry, 'multi/oci', 'v1', 'linux/amd64'));
  });

  test('over TLS, the platform manifest is fetched with the same trust', async () => {
    const image = `${secure.host}/multi/oci:v2`;
    const ca = join(dir, 'ca.pem');
    await writeFile(ca, secure.pki?.caPem ?? '');
    const result = await runCli(['resolve', '--ca-file', ca, '--platform', 'linux/arm64', image]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(lines(result.stdout)[0], `${image}\t${image}@${await skopeoPlatformDigest(secure, 'multi/oci', 'v2', 'linux/arm64')}`);
  });

  test('a single-platform image keeps its one manifest digest', async () => {
    const result = await resolve('linux/arm64', single);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(lines(result.stdout)[0], `${single}\t${single}@${await registry.digest('single/app', 'v1')}`);
  });

  test('a platform the index lacks fails with one line listing the platforms it has', async () => {
    const result = await resolve('linux/s390x', oci);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.deepEqual(lines(result.stderr), [
      `tagpin: ${oci} has no manifest for linux/s390x (the index lists linux/amd64, linux/arm64/v8); pick one of those with --platform, or leave --platform out to pin the index`,
    ]);
    const json = await runCli(['resolve', '-o', 'json', '--insecure-registry', registry.host, '--platform', 'linux/arm64/v9', oci]);
    assert.equal(json.code, 1);
    assert.match(json.stderr, /has no manifest for linux\/arm64\/v9/);
  });

  test('a malformed --platform is a usage error naming the expected form', async () => {
    for (const bad of ['linux', 'linux/amd64/v1/x', 'linux//amd64', 'linux/am d64']) {
      const result = await resolve(bad, oci);
      assert.equal(result.code, 2, bad);
      assert.deepEqual(lines(result.stderr), [
        `tagpin: --platform: invalid platform "${bad}": write os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm64/v8 (see tagpin resolve --help)`,
      ]);
    }
  });

  test('pin --platform writes the platform digest into manifests', async () => {
    const manifest = `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: a # keep me\n      image: ${oci}\n`;
    const result = await runCli(['pin', '-f', '-', '--insecure-registry', registry.host, '--platform', 'linux/arm64'], { stdin: manifest });
    assert.equal(result.code, 0, result.stderr);
    const digest = await skopeoPlatformDigest(registry, 'multi/oci', 'v1', 'linux/arm64');
    assert.equal(result.stdout, manifest.replace(`image: ${oci}`, `image: ${oci}@${digest}`));
  });
});
