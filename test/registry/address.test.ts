import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { classifyAddress, isForbiddenAddress, isLocalhostName, permits } from '../../src/registry/address.ts';
import { ForbiddenAddressError, createGuardedLookup } from '../../src/registry/guard.ts';
import { compileHostGlobs } from '../../src/registry/host-globs.ts';

describe('classifyAddress', () => {
  it('calls link-local and cloud metadata addresses forbidden, in any notation', () => {
    for (const address of [
      '169.254.169.254',
      '169.254.0.1',
      '169.254.170.2',
      'fe80::1',
      '[fe80::abcd]',
      'FEBF::1',
      'fd00:ec2::254',
      '100.100.100.200',
      '168.63.129.16',
      '::ffff:169.254.169.254',
      '::ffff:a9fe:a9fe',
      '[::ffff:169.254.169.254]',
      '64:ff9b::169.254.169.254',
      '2002:a9fe:a9fe::1',
    ]) {
      assert.equal(classifyAddress(address), 'forbidden', address);
      assert.equal(isForbiddenAddress(address), true, address);
    }
  });

  it('calls loopback, private, CGNAT, unspecified and unique-local addresses private, mapped forms included', () => {
    for (const address of [
      '127.0.0.1',
      '127.255.0.9',
      '::1',
      '[::1]',
      '0.0.0.0',
      '::',
      '10.0.0.1',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '100.64.0.1',
      '100.127.255.254',
      '100.100.100.201',
      'fc00::1',
      'fd12:3456::1',
      'fec0::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:10.1.2.3',
      '::ffff:192.168.0.1',
      '::ffff:100.64.0.1',
      '::ffff:0.0.0.0',
      '::127.0.0.1',
      '64:ff9b::10.0.0.1',
      '2002:7f00:1::',
    ]) {
      assert.equal(classifyAddress(address), 'private', address);
      assert.equal(isForbiddenAddress(address), false, address);
    }
  });

  it('calls internet addresses public, and names nothing that is not an IP literal', () => {
    for (const address of ['8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::8.8.8.8']) {
      assert.equal(classifyAddress(address), 'public', address);
    }
    assert.equal(classifyAddress('registry.example.com'), undefined);
    assert.equal(classifyAddress('localhost'), undefined);
  });
});

describe('permits', () => {
  it('lets an unlisted host reach only public addresses, an insecure one private ones too, an allowed one anything', () => {
    assert.deepEqual(
      (['public', 'private', 'any'] as const).map((reach) => (['public', 'private', 'forbidden'] as const).map((found) => permits(reach, found))),
      [
        [true, false, false],
        [true, true, false],
        [true, true, true],
      ],
    );
  });
});

describe('isLocalhostName', () => {
  it('knows localhost and its subdomains, whatever the case', () => {
    for (const name of ['localhost', 'LocalHost', 'registry.localhost', 'localhost.']) assert.equal(isLocalhostName(name), true, name);
    for (const name of ['localhost.example.com', 'mylocalhost', '127.0.0.1']) assert.equal(isLocalhostName(name), false, name);
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
      { address: '8.8.8.8', family: 4 },
      { address: 'fe80::1', family: 6 },
    ],
    'inside.test': [{ address: '10.1.2.3', family: 4 }],
    'mapped.test': [{ address: '::ffff:127.0.0.1', family: 6 }],
    'fine.test': [{ address: '8.8.4.4', family: 4 }],
    localhost: [{ address: '127.0.0.1', family: 4 }],
  };
  const resolve = (hostname: string): Promise<readonly LookupAddress[]> => Promise.resolve(table[hostname] ?? []);

  it('refuses a name that resolves to a metadata address', async () => {
    const { error } = await lookupOnce(createGuardedLookup(resolve, 'public'), 'metadata.test', true);
    assert.ok(error instanceof ForbiddenAddressError);
    assert.equal(error.address, '169.254.169.254');
    assert.equal(error.addressClass, 'forbidden');
  });

  it('refuses a name when any of its addresses is link-local, even after a public one', async () => {
    const { error } = await lookupOnce(createGuardedLookup(resolve, 'public'), 'mixed.test', false);
    assert.ok(error instanceof ForbiddenAddressError);
    assert.equal(error.address, 'fe80::1');
  });

  it('refuses private and IPv4-mapped loopback answers to an unlisted host, and localhost whatever it resolves to', async () => {
    const lookup = createGuardedLookup(resolve, 'public');
    for (const name of ['inside.test', 'mapped.test', 'localhost']) {
      const { error } = await lookupOnce(lookup, name, false);
      assert.ok(error instanceof ForbiddenAddressError, name);
      assert.equal(error.addressClass, 'private', name);
      assert.match(error.message, /a loopback or private address$/);
    }
  });

  it('lets a host listed insecure reach private addresses but not metadata', async () => {
    const lookup = createGuardedLookup(resolve, 'private');
    assert.equal((await lookupOnce(lookup, 'inside.test', false)).address, '10.1.2.3');
    assert.ok((await lookupOnce(lookup, 'metadata.test', false)).error instanceof ForbiddenAddressError);
  });

  it('lets an allowed host resolve to a link-local address', async () => {
    const { error, address } = await lookupOnce(createGuardedLookup(resolve, 'any'), 'metadata.test', false);
    assert.equal(error, null);
    assert.equal(address, '169.254.169.254');
  });

  it('answers in both callback forms net.connect uses', async () => {
    const lookup = createGuardedLookup(resolve, 'public');
    assert.deepEqual((await lookupOnce(lookup, 'fine.test', true)).address, [{ address: '8.8.4.4', family: 4 }]);
    assert.equal((await lookupOnce(lookup, 'fine.test', false)).address, '8.8.4.4');
  });

  it('reports ENOTFOUND for a name with no addresses', async () => {
    const { error } = await lookupOnce(createGuardedLookup(resolve, 'public'), 'nothing.test', false);
    assert.equal((error as { code?: string } | null)?.code, 'ENOTFOUND');
  });
});
