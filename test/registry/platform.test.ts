// Platform lookups: how index entries are matched, and the client against the real registry (cache keys, errors, requests).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatPlatform, parsePlatform, parseReference } from '../../src/reference/index.ts';
import { choosePlatform, indexEntries } from '../../src/registry/platform.ts';
import type { IndexEntry } from '../../src/registry/platform.ts';
import { lookupKit, rejection, soon } from '../support/lookups.ts';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { skopeoPlatformDigest } from '../support/skopeo.ts';

function entry(digest: string, platform: Record<string, string> | undefined): Record<string, unknown> {
  return { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 1, ...(platform === undefined ? {} : { platform }) };
}

function entries(...items: Record<string, unknown>[]): readonly IndexEntry[] {
  const parsed = indexEntries(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: items })));
  assert.ok(typeof parsed !== 'string', String(parsed));
  return parsed;
}

describe('matching a platform to index entries', () => {
  const index = entries(
    entry('amd64', { os: 'linux', architecture: 'amd64' }),
    entry('amd64-v3', { os: 'linux', architecture: 'amd64', variant: 'v3' }),
    entry('arm-v6', { os: 'linux', architecture: 'arm', variant: 'v6' }),
    entry('arm-bare', { os: 'linux', architecture: 'arm' }),
    entry('arm64-bare', { os: 'linux', architecture: 'arm64' }),
    entry('arm64-v9', { os: 'linux', architecture: 'arm64', variant: 'v9' }),
    entry('riscv-only-variant', { os: 'linux', architecture: 'riscv64', variant: 'rva22' }),
    entry('attestation', { os: 'unknown', architecture: 'unknown' }),
    entry('no-platform', undefined),
  );
  const pick = (text: string): string | undefined => choosePlatform(index, parsePlatform(text))?.digest;

  it('gives arm64 the default variant v8 on both sides, so arm64 and arm64/v8 match an entry without a variant', () => {
    assert.equal(pick('linux/arm64'), 'arm64-bare');
    assert.equal(pick('linux/arm64/v8'), 'arm64-bare');
    assert.equal(pick('linux/aarch64/8'), 'arm64-bare');
    assert.equal(pick('linux/arm64/v9'), 'arm64-v9');
  });

  it('gives arm the default variant v7; another variant matches only that variant', () => {
    assert.equal(pick('linux/arm'), 'arm-bare');
    assert.equal(pick('linux/arm/v7'), 'arm-bare');
    assert.equal(pick('linux/armhf'), 'arm-bare');
    assert.equal(pick('linux/arm/v6'), 'arm-v6');
    assert.equal(pick('linux/armel'), 'arm-v6');
    assert.equal(pick('linux/arm/v5'), undefined);
  });

  it('without a variant prefers an entry without one, else the first of that os and architecture', () => {
    assert.equal(pick('linux/amd64'), 'amd64');
    assert.equal(pick('linux/x86_64'), 'amd64');
    assert.equal(pick('linux/amd64/v3'), 'amd64-v3');
    assert.equal(pick('linux/riscv64'), 'riscv-only-variant');
    assert.equal(pick('windows/amd64'), undefined);
  });

  it('reads the platform text as containerd spells it', () => {
    assert.equal(formatPlatform(parsePlatform('Linux/ARM64')), 'linux/arm64/v8');
    assert.equal(formatPlatform(parsePlatform('linux/i686')), 'linux/386');
    assert.equal(formatPlatform(parsePlatform('linux/amd64')), 'linux/amd64');
    assert.throws(() => parsePlatform('linux'), /invalid platform "linux": write os\/arch or os\/arch\/variant/);
  });

  it('tells a body that is not an index', () => {
    assert.equal(indexEntries(Buffer.from('nope')), 'the index is not JSON');
    assert.equal(indexEntries(Buffer.from('{"schemaVersion":2}')), 'the index has no manifests list');
    assert.equal(indexEntries(Buffer.from('{"manifests":[{"size":1}]}')), 'an index entry has no digest or mediaType');
  });
});

describe('the client with a platform against the real registry', () => {
  let registry: TestRegistry;
  const kit = lookupKit(() => ({ insecure: [registry.host], allow: ['127.0.0.1'] }));

  before(async () => {
    registry = await startRegistry('http');
    await registry.push('multi/app', 'v1', 'oci-index');
  });
  after(async () => {
    await kit.closeAll();
    await registry.stop();
  });

  it('caches each platform apart from the index, and asks the registry once per platform', async () => {
    const client = kit.client();
    const ref = parseReference(`${registry.host}/multi/app:v1`);
    const before = registry.manifestRequests().length;
    const index = await client.resolve(ref, { deadline: soon() });
    const arm = await client.resolve(ref, { deadline: soon(), platform: parsePlatform('linux/arm64') });
    const amd = await client.resolve(ref, { deadline: soon(), platform: parsePlatform('linux/amd64') });
    const afterFirst = registry.manifestRequests().length;
    const again = await client.resolve(ref, { deadline: soon(), platform: parsePlatform('linux/arm64/v8') });
    const indexAgain = await client.resolve(ref, { deadline: soon() });
    // Taken before skopeo asks the registry itself.
    const requests = registry.manifestRequests().slice(before).map((r) => `${r.method} ${r.path}`);

    assert.equal(index.digest, await registry.digest('multi/app', 'v1'));
    assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.equal(arm.digest, await skopeoPlatformDigest(registry, 'multi/app', 'v1', 'linux/arm64'));
    assert.equal(arm.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(amd.digest, await skopeoPlatformDigest(registry, 'multi/app', 'v1', 'linux/amd64'));
    assert.deepEqual([again.digest, again.source], [arm.digest, 'cache']);
    assert.deepEqual([indexAgain.digest, indexAgain.source], [index.digest, 'cache']);
    // Index: one HEAD. Each platform: a HEAD by tag and a GET of the index by its digest. The repeats: none.
    assert.equal(requests.length, afterFirst - before);
    const byDigest = `GET /v2/multi/app/manifests/${index.digest}`;
    assert.deepEqual(requests, ['HEAD /v2/multi/app/manifests/v1', 'HEAD /v2/multi/app/manifests/v1', byDigest, 'HEAD /v2/multi/app/manifests/v1', byDigest]);
  });

  it('fails with REGISTRY_NO_PLATFORM naming the image and registry', async () => {
    const ref = parseReference(`${registry.host}/multi/app:v1`);
    const error = await rejection(kit.client().resolve(ref, { deadline: soon(), platform: parsePlatform('windows/amd64') }));
    assert.equal(error.code, 'REGISTRY_NO_PLATFORM');
    assert.equal(error.image, ref.original);
    assert.equal(error.registry, registry.host);
  });
});
