import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDockerConfig, parseDockerConfigEntries } from '../../src/credentials/index.ts';
import { InputError } from '../../src/errors/index.ts';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const unpadded = (text: string): string => b64(text).replace(/=+$/, '');
const SECRET = 's3cr3t-P@ss:with:colons';

/** Asserts the document is rejected with exactly `message`, and that no secret leaks into it. */
function rejects(document: unknown, message: string): void {
  assert.throws(
    () => parseDockerConfigEntries(document, 'test.json'),
    (err: unknown) => {
      assert.ok(err instanceof InputError, String(err));
      assert.equal(err.message, message);
      assert.ok(!err.message.includes(SECRET) && !err.message.includes(b64(`u:${SECRET}`)), 'message leaks a secret');
      return true;
    },
  );
}

describe('parseDockerConfig reads config.json', () => {
  it('decodes padded base64 auth, splitting on the first colon', () => {
    const auth = b64(`alice:${SECRET}`);
    assert.ok(auth.endsWith('='), 'fixture should need padding');
    assert.deepEqual(parseDockerConfigEntries({ auths: { 'ghcr.io': { auth } } }, 'cfg'), [
      { username: 'alice', password: SECRET, source: 'cfg', key: 'ghcr.io' },
    ]);
  });

  it('decodes unpadded base64 auth', () => {
    const auth = unpadded(`alice:${SECRET}`);
    assert.ok(!auth.endsWith('='));
    const [credential] = parseDockerConfigEntries({ auths: { 'ghcr.io': { auth } } }, 'cfg');
    assert.equal(credential?.username, 'alice');
    assert.equal(credential?.password, SECRET);
  });

  it('lets auth override username and password', () => {
    const [credential] = parseDockerConfigEntries(
      { auths: { 'q.io': { username: 'old', password: 'old', auth: b64('new:pw') } } },
      'cfg',
    );
    assert.equal(credential?.username, 'new');
    assert.equal(credential?.password, 'pw');
  });

  it('reads username and password fields, and keeps identitytoken as identityToken', () => {
    assert.deepEqual(
      parseDockerConfigEntries(
        {
          auths: {
            'r.io': { username: 'bob', password: 'pw', email: 'bob@example.com' },
            'acr.example.io': { auth: b64('00000000-0000-0000-0000-000000000000:'), identitytoken: 'refresh' },
          },
        },
        'cfg',
      ),
      [
        { username: 'bob', password: 'pw', source: 'cfg', key: 'r.io' },
        { username: '00000000-0000-0000-0000-000000000000', password: '', identityToken: 'refresh', source: 'cfg', key: 'acr.example.io' },
      ],
    );
  });

  it('skips entries with nothing to log in with', () => {
    assert.deepEqual(parseDockerConfigEntries({ auths: { 'r.io': {}, 's.io': { email: 'x@y', auth: '' } } }, 'cfg'), []);
  });

  it('treats a config.json with only a credential store as holding no credentials', () => {
    assert.deepEqual(parseDockerConfigEntries({ credsStore: 'desktop' }, 'cfg'), []);
    assert.deepEqual(parseDockerConfigEntries({ auths: {}, credHelpers: { 'gcr.io': 'gcloud' } }, 'cfg'), []);
  });

  it('accepts the JSON text as well as the parsed document', () => {
    const text = JSON.stringify({ auths: { 'r.io': { auth: b64('u:p') } } });
    assert.equal(parseDockerConfig(text, 'cfg').match('r.io/app')[0]?.username, 'u');
    assert.equal(parseDockerConfig(new TextEncoder().encode(text), 'cfg').match('r.io/app')[0]?.username, 'u');
  });
});

describe('parseDockerConfig reads legacy .dockercfg', () => {
  it('reads the top-level map of entries', () => {
    const keyring = parseDockerConfig({ 'https://index.docker.io/v1/': { auth: b64('hub:pw'), email: 'a@b' } }, 'secret ns/old');
    assert.deepEqual(keyring.match('docker.io/library/nginx'), [
      { username: 'hub', password: 'pw', source: 'secret ns/old', key: 'https://index.docker.io/v1/' },
    ]);
  });
});

describe('parseDockerConfig rejects what is not a docker config, without secrets in the message', () => {
  it('names the source and the key', () => {
    rejects({ auths: { 'r.io': { auth: b64('no-colon-in-here') } } }, 'docker config test.json: auths["r.io"].auth is not base64 user:password');
    rejects({ auths: { 'r.io': { auth: `${SECRET}!` } } }, 'docker config test.json: auths["r.io"].auth is not base64 user:password');
    rejects({ auths: { 'r.io': { auth: 'YWJj=' } } }, 'docker config test.json: auths["r.io"].auth is not base64 user:password');
    rejects({ auths: { 'r.io': { auth: 42 } } }, 'docker config test.json: auths["r.io"].auth is not a string');
    rejects({ auths: { 'r.io': { password: 7 } } }, 'docker config test.json: auths["r.io"].password is not a string');
    rejects({ auths: { 'r.io': 'u:p' } }, 'docker config test.json: auths["r.io"] is not an object');
    rejects({ auths: { '': { auth: b64(`u:${SECRET}`) } } }, 'docker config test.json: auths[""] does not name a registry host');
    rejects({ auths: [] }, 'docker config test.json: auths is not an object');
    rejects({ 'r.io': null }, 'docker config test.json: ["r.io"] is not an object');
    rejects('[1]', 'docker config test.json: is not a JSON object');
    rejects(null, 'docker config test.json: is not a JSON object');
    rejects(`{"auths": {"r.io": {"password": "${SECRET}"`, 'docker config test.json: is not valid JSON');
  });
});
