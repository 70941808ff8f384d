import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createKeyring, emptyKeyring, mergeKeyrings, parseDockerConfig, parseKeyLocation } from '../../src/credentials/index.ts';
import type { Credential, StaticKeyring } from '../../src/credentials/index.ts';

const credential = (key: string, username = key): Credential => ({ username, password: 'pw', source: 'test', key });
/** A keyring whose credentials are named after their keys, to read matches easily. */
const keyringOf = (...keys: readonly string[]): StaticKeyring => createKeyring(keys.map((key) => credential(key)));
const matches = (keyring: StaticKeyring, image: string): readonly string[] => keyring.match(image).map((c) => c.key);

describe('config keys are read as kubelet reads them', () => {
  it('drops the scheme and a leading /v1/ or /v2/', () => {
    assert.deepEqual(parseKeyLocation('https://index.docker.io/v1/'), { host: 'index.docker.io', port: '', path: '' });
    assert.deepEqual(parseKeyLocation('http://r.io:5000/v2/team'), { host: 'r.io', port: '5000', path: '/team' });
    assert.deepEqual(parseKeyLocation('quay.io/coreos'), { host: 'quay.io', port: '', path: '/coreos' });
    assert.deepEqual(parseKeyLocation('[::1]:5000'), { host: '::1', port: '5000', path: '' });
    assert.deepEqual(parseKeyLocation('https://r.io/v1/?x#y'), { host: 'r.io', port: '', path: '' });
    assert.equal(parseKeyLocation(''), undefined);
    assert.equal(parseKeyLocation('https:///path'), undefined);
  });
});

describe('keyring matching', () => {
  it('matches a schemeless key and one with https:// and /v2/ alike', () => {
    assert.deepEqual(matches(keyringOf('r.io'), 'r.io/app'), ['r.io']);
    assert.deepEqual(matches(keyringOf('https://r.io/v2/'), 'r.io/app'), ['https://r.io/v2/']);
  });

  it('requires the same port', () => {
    const keyring = keyringOf('127.0.0.1:5000');
    assert.deepEqual(matches(keyring, '127.0.0.1:5000/demo/app'), ['127.0.0.1:5000']);
    assert.deepEqual(matches(keyring, '127.0.0.1:5001/demo/app'), []);
    assert.deepEqual(matches(keyring, '127.0.0.1/demo/app'), []);
    assert.deepEqual(matches(keyringOf('127.0.0.1'), '127.0.0.1:5000/demo/app'), []);
    assert.deepEqual(matches(keyringOf('[::1]:5000'), '[::1]:5000/app'), ['[::1]:5000']);
    assert.deepEqual(matches(keyringOf('[::1]'), '[::1]/app'), ['[::1]']);
    assert.deepEqual(matches(keyringOf('[::1]'), '[::2]/app'), []);
  });

  it('matches host labels as globs, one label each', () => {
    const keyring = keyringOf('*.gcr.io');
    assert.deepEqual(matches(keyring, 'us.gcr.io/p/app'), ['*.gcr.io']);
    assert.deepEqual(matches(keyring, 'gcr.io/p/app'), []);
    assert.deepEqual(matches(keyring, 'a.b.gcr.io/p/app'), []);
    assert.deepEqual(matches(keyringOf('*-docker.pkg.dev'), 'europe-docker.pkg.dev/p/r/app'), ['*-docker.pkg.dev']);
    assert.deepEqual(matches(keyringOf('r*1.example.com'), 'r-a1.example.com/app'), ['r*1.example.com']);
    assert.deepEqual(matches(keyringOf('r[0-3].example.com'), 'r2.example.com/app'), ['r[0-3].example.com']);
    assert.deepEqual(matches(keyringOf('r[^0-3].example.com'), 'r2.example.com/app'), []);
  });

  it('never matches a malformed glob', () => {
    assert.deepEqual(matches(keyringOf('r[.example.com', 'r[].example.com', 'r[a-].example.com'), 'r[.example.com/app'), []);
  });

  it('matches globs in the host only, not in the path', () => {
    assert.deepEqual(matches(keyringOf('r.io/team/*'), 'r.io/team/app'), []);
  });

  it('compares host names without regard to case', () => {
    assert.deepEqual(matches(keyringOf('GHCR.io'), 'ghcr.io/o/app'), ['GHCR.io']);
  });

  it('requires the key path to be a prefix of the image path, on path segments', () => {
    const keyring = keyringOf('quay.io/coreos');
    assert.deepEqual(matches(keyring, 'quay.io/coreos/etcd'), ['quay.io/coreos']);
    assert.deepEqual(matches(keyring, 'quay.io/coreos'), ['quay.io/coreos']);
    assert.deepEqual(matches(keyring, 'quay.io/coreos-extra/etcd'), []);
    assert.deepEqual(matches(keyring, 'quay.io/other/etcd'), []);
    assert.deepEqual(matches(keyringOf('quay.io/coreos/'), 'quay.io/coreos/etcd'), ['quay.io/coreos/']);
  });

  it('returns every match, the more specific key first', () => {
    const keyring = keyringOf('quay.io', '*.io', 'quay.io/coreos', 'quay.io/coreos/etcd', 'quay.io/other');
    assert.deepEqual(matches(keyring, 'quay.io/coreos/etcd'), ['quay.io/coreos/etcd', 'quay.io/coreos', 'quay.io', '*.io']);
  });

  it('keeps document order between credentials listed under the same key', () => {
    const keyring = createKeyring([credential('r.io', 'first'), credential('https://r.io/v1/', 'second')]);
    assert.deepEqual(
      keyring.match('r.io/app').map((c) => c.username),
      ['first', 'second'],
    );
  });

  it('treats docker.io, index.docker.io, registry-1.docker.io and https://index.docker.io/v1/ as Docker Hub', () => {
    for (const key of ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'https://index.docker.io/v1/']) {
      assert.deepEqual(matches(keyringOf(key), 'docker.io/library/nginx'), [key], key);
    }
    assert.deepEqual(matches(keyringOf('https://index.docker.io/v1/'), 'index.docker.io/library/nginx'), ['https://index.docker.io/v1/']);
    assert.deepEqual(matches(keyringOf('docker.io'), 'ghcr.io/library/nginx'), []);
  });

  it('matches Docker Hub keys with a path by the normalized repository', () => {
    const keyring = keyringOf('docker.io/myorg', 'https://index.docker.io/v1/');
    assert.deepEqual(matches(keyring, 'docker.io/myorg/app'), ['docker.io/myorg', 'https://index.docker.io/v1/']);
    assert.deepEqual(matches(keyring, 'docker.io/library/nginx'), ['https://index.docker.io/v1/']);
  });

  it('reads images as docker would, even when not fully normalized', () => {
    const keyring = keyringOf('index.docker.io');
    assert.deepEqual(matches(keyring, 'nginx'), ['index.docker.io']);
    assert.deepEqual(matches(keyring, 'myorg/app'), ['index.docker.io']);
  });

  it('finds nothing for a string that is no image', () => {
    assert.deepEqual(matches(keyringOf('r.io'), 'R.IO/App'), []);
    assert.deepEqual(matches(keyringOf('r.io'), ''), []);
  });

  it('stays quick on keys with many stars', () => {
    const keyring = keyringOf(`${'*a'.repeat(40)}b.io`);
    assert.deepEqual(matches(keyring, `${'a'.repeat(200)}.io/app`), []);
  });
});

describe('mergeKeyrings', () => {
  it("returns the first keyring's matches before the second's, whatever their specificity", async () => {
    const pod = parseDockerConfig({ auths: { 'r.io': { auth: Buffer.from('pod:pw').toString('base64') } } }, 'secret ns/pod');
    const sa = parseDockerConfig({ auths: { 'r.io/team': { username: 'sa', password: 'pw' } } }, 'secret ns/sa');
    assert.deepEqual(
      (await mergeKeyrings(pod, emptyKeyring, sa).lookup('r.io/team/app', { deadline: Number.POSITIVE_INFINITY })).map((c) => c.source),
      ['secret ns/pod', 'secret ns/sa'],
    );
    assert.deepEqual(await mergeKeyrings().lookup('r.io/team/app', { deadline: Number.POSITIVE_INFINITY }), []);
  });
});
