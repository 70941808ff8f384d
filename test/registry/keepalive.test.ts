// Lookups reuse their connections: a HEAD does not close the socket it went out on (undici's default does).
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { parseReference } from '../../src/reference/index.ts';
import { createRegistryClient } from '../../src/registry/index.ts';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';

describe('registry connections', () => {
  let registry: TestRegistry;
  let digest: string;

  before(async () => {
    registry = await startRegistry('token');
    digest = await registry.push('public/keep', 'v1', 'oci-index');
  });
  after(async () => {
    await registry?.stop();
  });

  it('twenty cold lookups in a row (HEADs with a cached token) share one connection (HEAD keeps it open)', async () => {
    const ca = await readFile(registry.pki?.caFile ?? '', 'utf8');
    // No digest cache: every lookup is a HEAD at the registry.
    const client = createRegistryClient({ ca, allow: ['127.0.0.1'], cache: { ttlSeconds: 0, maxEntries: 0 } });
    const ref = parseReference(`${registry.host}/public/keep:v1`);
    let connections = 0;
    const count = (): void => {
      connections += 1;
    };
    try {
      assert.equal((await client.resolve(ref, { deadline: Date.now() + 30_000 })).digest, digest);
      const heads = registry.manifestRequests().length;
      subscribe('undici:client:connected', count);
      for (let i = 0; i < 20; i++) assert.equal((await client.resolve(ref, { deadline: Date.now() + 30_000 })).digest, digest);
      assert.equal(registry.manifestRequests().length - heads, 20, 'each lookup reached the registry');
      // The first lookup's 401 challenge may leave its connection closed, so one more may open; never one per HEAD.
      assert.ok(connections <= 1, `${String(connections)} connections for 20 lookups`);
    } finally {
      unsubscribe('undici:client:connected', count);
      await client.close();
    }
  });
});
