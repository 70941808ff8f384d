// The address guard against the fault proxy's redirects and realms when names (not literals) lead to link-local addresses.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { parseReference } from '../../src/reference/index.ts';
import { createRegistryClient } from '../../src/registry/index.ts';
import type { Resolver } from '../../src/registry/index.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import type { FaultProxy } from '../support/fault-proxy.ts';
import { rejection, soon } from '../support/lookups.ts';
import { requireRegistryBinary, startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';

/** Test DNS: these names answer link-local and metadata addresses; nothing is ever sent to them. */
const NAMES: Readonly<Record<string, readonly LookupAddress[]>> = {
  'metadata.test': [{ address: '169.254.169.254', family: 4 }],
  'link-local-v6.test': [{ address: 'fe80::1', family: 6 }],
  // One harmless answer first does not make the name safe: every address is checked.
  'mixed.test': [{ address: '127.0.0.1', family: 4 }, { address: '169.254.10.10', family: 4 }],
};

describe('address guard through the fault proxy (test resolver)', () => {
  let registry: TestRegistry;
  const proxies: FaultProxy[] = [];
  const asked: string[] = [];
  let client: Resolver;

  before(async () => {
    requireRegistryBinary();
    registry = await startRegistry('http');
    await registry.push('demo/app', 'v1', 'oci-manifest');
    client = createRegistryClient({
      insecure: ['127.0.0.1'],
      allow: ['127.0.0.1'],
      lookup: async (hostname) => {
        asked.push(hostname);
        const found = NAMES[hostname];
        if (found === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
        return found;
      },
    });
  });
  after(async () => {
    await client?.close();
    await Promise.all(proxies.map((p) => p.close()));
    await registry?.stop();
  });

  for (const name of Object.keys(NAMES)) {
    it(`refuses a redirect to ${name} before connecting, naming the address`, async () => {
      const proxy = await startFaultProxy({ upstream: registry.baseUrl, fault: { kind: 'redirect', to: `https://${name}` } });
      proxies.push(proxy);
      const image = `${proxy.host}/demo/app:v1`;
      const error = await rejection(client.resolve(parseReference(image), { deadline: soon(5000) }));
      assert.equal(error.code, 'REGISTRY_FORBIDDEN_ADDRESS');
      assert.equal(error.image, image);
      // With several answers the guard may name whichever it refuses first.
      assert.match(error.message, new RegExp(`refusing to contact ${name}${(NAMES[name]?.length ?? 0) > 1 ? '' : '.*(169\\.254|fe80::)'}`));
      assert.ok(asked.includes(name), 'the name went through the test resolver');
    });
  }

  it('refuses a token realm whose name resolves to the metadata address', async () => {
    const proxy = await startFaultProxy({ upstream: registry.baseUrl, fault: { kind: 'bearer', realm: 'https://metadata.test/token' } });
    proxies.push(proxy);
    const error = await rejection(client.resolve(parseReference(`${proxy.host}/demo/app:v1`), { deadline: soon(5000) }));
    assert.equal(error.code, 'REGISTRY_FORBIDDEN_ADDRESS');
    assert.match(error.message, /metadata\.test.*169\.254\.169\.254/);
  });
});
