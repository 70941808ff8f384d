import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import {
  ForbiddenAddressError,
  compileHostGlobs,
  createGuardedLookup,
  isForbiddenAddress,
  splitHostPort,
} from '../../src/registry/address.ts';

describe('isForbiddenAddress', () => {
  it('refuses link-local and cloud metadata addresses, in any notation', () => {
    for (const address of ['169.254.169.254', '169.254.0.1', 'fe80::1', '[fe80::abcd]', 'FEBF::1', 'fd00:ec2::254', '100.100.100.200', '::ffff:169.254.169.254']) {
      assert.equal(isForbiddenAddress(address), true, address);
    }
  });

  it('lets loopback, private and public addresses through', () => {
    for (const address of ['127.0.0.1', '::1', '10.0.0.1', '192.168.1.1', '100.100.100.201', 'fec0::1', '8.8.8.8', 'registry.example.com']) {
      assert.equal(isForbiddenAddress(address), false, address);
    }
  });
});

describe('splitHostPort', () => {
  it('splits names, IPv4 and bracketed IPv6, lower-casing the host', () => {
    assert.deepEqual(splitHostPort('Registry.Example.com:5000'), { host: 'registry.example.com', port: '5000' });
    assert.deepEqual(splitHostPort('[::1]:5000'), { host: '[::1]', port: '5000' });
    assert.deepEqual(splitHostPort('[::1]'), { host: '[::1]', port: undefined });
    assert.deepEqual(splitHostPort('docker.io'), { host: 'docker.io', port: undefined });
  });
});

describe('compileHostGlobs', () => {
  it('matches * within one label and ignores case', () => {
    const match = compileHostGlobs(['*.example.com']);
    assert.equal(match('a.example.com'), true);
    assert.equal(match('A.EXAMPLE.COM:5000'), true);
    assert.equal(match('example.com'), false);
    assert.equal(match('a.b.example.com'), false);
    assert.equal(match('aexample.com'), false);
  });

  it('matches a port only when the glob names it', () => {
    const match = compileHostGlobs(['127.0.0.1:5000', 'registry.local']);
    assert.equal(match('127.0.0.1:5000'), true);
    assert.equal(match('127.0.0.1:5001'), false);
    assert.equal(match('127.0.0.1'), false);
    assert.equal(match('registry.local:443'), true);
  });

  it('supports ? and character classes, and matches nothing when empty', () => {
    const match = compileHostGlobs(['reg-[ab]?.corp']);
    assert.equal(match('reg-a1.corp'), true);
    assert.equal(match('reg-c1.corp'), false);
    assert.equal(compileHostGlobs([])('anything'), false);
  });
});

function lookupOnce(
  lookup: ReturnType<typeof createGuardedLookup>,
  hostname: string,
  all: boolean,
): Promise<{ readonly error: Error | null; readonly address: string | readonly LookupAddress[] }> {
  return new Promise((resolve) => {
    lookup(hostname, { all }, (error, address) => {
      resolve({ error, address });
    });
  });
}

describe('createGuardedLookup', () => {
  const table: Readonly<Record<string, readonly LookupAddress[]>> = {
    'metadata.test': [{ address: '169.254.169.254', family: 4 }],
    'mixed.test': [
      { address: '127.0.0.1', family: 4 },
      { address: 'fe80::1', family: 6 },
    ],
    'fine.test': [{ address: '127.0.0.1', family: 4 }],
  };
  const resolve = (hostname: string): Promise<readonly LookupAddress[]> => Promise.resolve(table[hostname] ?? []);

  it('refuses a name that resolves to a metadata address', async () => {
    const lookup = createGuardedLookup(resolve, () => false);
    const { error } = await lookupOnce(lookup, 'metadata.test', true);
    assert.ok(error instanceof ForbiddenAddressError);
    assert.equal(error.address, '169.254.169.254');
  });

  it('refuses a name when any of its addresses is link-local', async () => {
    const { error } = await lookupOnce(createGuardedLookup(resolve, () => false), 'mixed.test', false);
    assert.ok(error instanceof ForbiddenAddressError);
  });

  it('lets a trusted name resolve to a link-local address', async () => {
    const { error, address } = await lookupOnce(createGuardedLookup(resolve, (h) => h === 'metadata.test'), 'metadata.test', false);
    assert.equal(error, null);
    assert.equal(address, '169.254.169.254');
  });

  it('answers in both callback forms net.connect uses', async () => {
    const lookup = createGuardedLookup(resolve, () => false);
    assert.deepEqual((await lookupOnce(lookup, 'fine.test', true)).address, [{ address: '127.0.0.1', family: 4 }]);
    assert.equal((await lookupOnce(lookup, 'fine.test', false)).address, '127.0.0.1');
  });

  it('reports ENOTFOUND for a name with no addresses', async () => {
    const { error } = await lookupOnce(createGuardedLookup(resolve, () => false), 'nothing.test', false);
    assert.equal((error as { code?: string } | null)?.code, 'ENOTFOUND');
  });
});
