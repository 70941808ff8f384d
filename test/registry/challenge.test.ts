import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseChallenges, pickChallenge } from '../../src/registry/challenge.ts';

describe('parseChallenges', () => {
  it('reads a Bearer challenge whose quoted scope holds commas', () => {
    const header =
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"';
    assert.deepEqual(parseChallenges(header), [
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:samalba/my-app:pull,push',
        },
      },
    ]);
  });

  it('splits several challenges in one header, with spaces around commas and equals signs', () => {
    const header = 'Newauth realm="apps", type=1 , title="Login to \\"apps\\"", Basic realm = "simple"';
    assert.deepEqual(parseChallenges(header), [
      { scheme: 'newauth', params: { realm: 'apps', type: '1', title: 'Login to "apps"' } },
      { scheme: 'basic', params: { realm: 'simple' } },
    ]);
  });

  it('reads challenges spread over several header lines, in order', () => {
    const challenges = parseChallenges(['Negotiate', 'Basic realm="r1"', 'Bearer realm="https://t/x"']);
    assert.deepEqual(
      challenges.map((c) => c.scheme),
      ['negotiate', 'basic', 'bearer'],
    );
  });

  it('keeps a token68 apart from auth-params', () => {
    assert.deepEqual(parseChallenges('Negotiate abc+/def==, Basic realm=x'), [
      { scheme: 'negotiate', params: {}, token68: 'abc+/def==' },
      { scheme: 'basic', params: { realm: 'x' } },
    ]);
  });

  it('lower-cases scheme and parameter names but not values', () => {
    assert.deepEqual(parseChallenges('BEARER Realm="HTTPS://Auth/T",SERVICE=Reg'), [
      { scheme: 'bearer', params: { realm: 'HTTPS://Auth/T', service: 'Reg' } },
    ]);
  });

  it('survives junk, empty list elements and an unterminated quote', () => {
    assert.deepEqual(parseChallenges(''), []);
    assert.deepEqual(parseChallenges(undefined), []);
    assert.deepEqual(parseChallenges(' , ,Basic realm="x"'), [{ scheme: 'basic', params: { realm: 'x' } }]);
    assert.deepEqual(parseChallenges('Bearer realm="https://a/b'), [{ scheme: 'bearer', params: { realm: 'https://a/b' } }]);
    assert.deepEqual(parseChallenges('"oops", Basic'), [{ scheme: 'basic', params: {} }]);
  });
});

describe('pickChallenge', () => {
  it('picks the first Basic or Bearer challenge, ignoring case and other schemes', () => {
    assert.deepEqual(pickChallenge('Negotiate, bAsIc realm="reg", Bearer realm="https://t"'), { scheme: 'basic', realm: 'reg' });
    assert.deepEqual(pickChallenge(['Digest realm="d"', 'BEARER realm="https://t/token",service="svc"']), {
      scheme: 'bearer',
      realm: 'https://t/token',
      service: 'svc',
    });
  });

  it('skips a Bearer challenge without a realm, since no token can be fetched for it', () => {
    assert.deepEqual(pickChallenge('Bearer service="x", Basic'), { scheme: 'basic', realm: undefined });
    assert.equal(pickChallenge('Bearer service="x"'), undefined);
  });

  it('finds nothing when only unknown schemes are offered', () => {
    assert.equal(pickChallenge('Negotiate abc=='), undefined);
  });
});
