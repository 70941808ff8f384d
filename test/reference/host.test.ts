// host[:port] splitting, the one splitter every folder uses.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitHostPort, stripBrackets } from '../../src/reference/index.ts';

describe('splitHostPort', () => {
  it('splits names, IPv4 and bracketed IPv6, keeping the host as written', () => {
    assert.deepEqual(splitHostPort('Registry.Example.com:5000'), { host: 'Registry.Example.com', port: '5000' });
    assert.deepEqual(splitHostPort('127.0.0.1:5000'), { host: '127.0.0.1', port: '5000' });
    assert.deepEqual(splitHostPort('[::1]:5000'), { host: '[::1]', port: '5000' });
    assert.deepEqual(splitHostPort('[::1]'), { host: '[::1]', port: undefined });
    assert.deepEqual(splitHostPort('docker.io'), { host: 'docker.io', port: undefined });
  });

  it('reads a bare IPv6 literal as all host', () => {
    assert.deepEqual(splitHostPort('fe80::1'), { host: 'fe80::1', port: undefined });
  });

  it('refuses an unclosed bracket or anything but :port after it', () => {
    assert.equal(splitHostPort('[::1'), undefined);
    assert.equal(splitHostPort('[::1]x'), undefined);
  });

  it('strips brackets only from a bracketed literal', () => {
    assert.equal(stripBrackets('[::1]'), '::1');
    assert.equal(stripBrackets('registry.local'), 'registry.local');
  });
});
