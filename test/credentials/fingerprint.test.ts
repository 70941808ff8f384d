import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { credentialFingerprint } from '../../src/credentials/index.ts';

describe('credentialFingerprint', () => {
  it('is 16 hex characters, the same for the same secrets from anywhere', () => {
    const a = credentialFingerprint({ username: 'u', password: 'p', source: 'secret a/x', key: 'r.io' });
    const b = credentialFingerprint({ username: 'u', password: 'p', source: 'file', key: 'https://r.io/v1/' });
    assert.match(a, /^[0-9a-f]{16}$/);
    assert.equal(a, b);
  });

  it('differs when any secret differs, including where the fields split', () => {
    const prints = new Set(
      [
        { username: 'u', password: 'p' },
        { username: 'u', password: 'q' },
        { username: 'v', password: 'p' },
        { username: 'u:p', password: '' },
        { username: 'u', password: ':p' },
        { username: 'u', password: 'p', identityToken: 't' },
        { identityToken: 't' },
      ].map((c) => credentialFingerprint({ ...c, source: 's', key: 'k' })),
    );
    assert.equal(prints.size, 7);
  });

  it('does not contain the password', () => {
    const print = credentialFingerprint({ username: 'u', password: 'abcdef0123', source: 's', key: 'k' });
    assert.ok(!print.includes('abcdef0123'));
  });
});
