// Concurrent first lookups on one registry learn its auth challenge once, not one 401 each.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseReference } from '../../src/reference/index.ts';
import { createRegistryClient } from '../../src/registry/index.ts';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';

const REPOSITORIES = ['public/a', 'public/b', 'public/c', 'public/d', 'public/e'];

describe('auth challenge discovery', () => {
  let registry: TestRegistry;

  before(async () => {
    registry = await startRegistry('token');
    for (const repository of REPOSITORIES) await registry.push(repository, 'v1', 'oci-manifest');
  });
  after(async () => {
    await registry?.stop();
  });

  it('five concurrent first lookups on a token registry cost one 401, and each is pinned to the registry\'s digest', async () => {
    assert.ok(registry.pki !== undefined);
    const client = createRegistryClient({ ca: registry.pki.caPem, allow: ['127.0.0.1'] });
    try {
      const before = registry.manifestRequests().length;
      const resolved = await Promise.all(
        REPOSITORIES.map((repository) => client.resolve(parseReference(`${registry.host}/${repository}:v1`), { deadline: Date.now() + 20_000 })),
      );
      for (const [i, repository] of REPOSITORIES.entries()) assert.equal(resolved[i]?.digest, await registry.digest(repository, 'v1'));
      const requests = registry.manifestRequests().slice(before);
      assert.equal(requests.filter((r) => r.status === 401).length, 1, JSON.stringify(requests));
      assert.equal(requests.filter((r) => r.status === 200).length, REPOSITORIES.length);
    } finally {
      await client.close();
    }
  });
});
