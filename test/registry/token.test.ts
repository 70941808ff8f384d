import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { basicAuthorization, parseTokenResponse } from '../../src/registry/token.ts';
import { parseRetryAfter } from '../../src/registry/failure.ts';

describe('parseTokenResponse', () => {
  it('prefers token and falls back to access_token', () => {
    assert.equal(parseTokenResponse(Buffer.from('{"token":"t1","access_token":"t2"}'))?.token, 't1');
    assert.equal(parseTokenResponse(Buffer.from('{"access_token":"t2"}'))?.token, 't2');
    assert.equal(parseTokenResponse(Buffer.from('{"token":"","access_token":"t2"}'))?.token, 't2');
  });

  it('defaults expires_in to 60 s and never goes below it', () => {
    assert.equal(parseTokenResponse(Buffer.from('{"token":"t"}'))?.expiresInSeconds, 60);
    assert.equal(parseTokenResponse(Buffer.from('{"token":"t","expires_in":5}'))?.expiresInSeconds, 60);
    assert.equal(parseTokenResponse(Buffer.from('{"token":"t","expires_in":300}'))?.expiresInSeconds, 300);
    assert.equal(parseTokenResponse(Buffer.from('{"token":"t","expires_in":"300"}'))?.expiresInSeconds, 60);
  });

  it('reads issued_at as RFC 3339 and ignores it when unreadable', () => {
    assert.equal(parseTokenResponse(Buffer.from('{"token":"t","issued_at":"2026-01-02T03:04:05Z"}'))?.issuedAt, Date.UTC(2026, 0, 2, 3, 4, 5));
    assert.equal(parseTokenResponse(Buffer.from('{"token":"t","issued_at":"yesterday"}'))?.issuedAt, undefined);
  });

  it('finds no token in empty, non-JSON or tokenless answers', () => {
    for (const text of ['', 'nope', '{}', '{"token":5}', 'null']) {
      assert.equal(parseTokenResponse(Buffer.from(text)), undefined, text);
    }
    assert.equal(parseTokenResponse(undefined), undefined);
  });
});

describe('basicAuthorization', () => {
  it('encodes user:password, and offers nothing without both', () => {
    assert.equal(basicAuthorization({ username: 'u', password: 'p:w', source: 's', key: 'k' }), `Basic ${Buffer.from('u:p:w').toString('base64')}`);
    assert.equal(basicAuthorization({ identityToken: 'x', source: 's', key: 'k' }), undefined);
    assert.equal(basicAuthorization(undefined), undefined);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    assert.equal(parseRetryAfter('30'), 30);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', Date.UTC(2015, 9, 21, 7, 28, 0)), 30);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });
});
