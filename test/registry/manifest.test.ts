import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { checkManifestBody, mediaTypeOf } from '../../src/registry/manifest.ts';
import { isValidDigest } from '../../src/reference/index.ts';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const body = Buffer.from(`{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","config":{},"layers":[]}`);
// Computed independently with node:crypto, the way a client would check a registry's answer.
const bodyDigest = `sha256:${createHash('sha256').update(body).digest('hex')}`;

describe('mediaTypeOf', () => {
  it('drops parameters and case', () => {
    assert.equal(mediaTypeOf('Application/VND.oci.image.index.v1+json; charset=utf-8'), 'application/vnd.oci.image.index.v1+json');
    assert.equal(mediaTypeOf(undefined), '');
  });
});

describe('isValidDigest', () => {
  it('accepts sha256 and sha512 with lowercase hex of the right length', () => {
    assert.equal(isValidDigest(`sha256:${'a'.repeat(64)}`), true);
    assert.equal(isValidDigest(`sha512:${'0'.repeat(128)}`), true);
  });

  it('rejects sha384 (not registered by OCI), other algorithms, wrong lengths, uppercase and junk', () => {
    for (const bad of [`sha384:${'a'.repeat(96)}`, `sha256:${'A'.repeat(64)}`, `sha256:${'a'.repeat(63)}`, `md5:${'a'.repeat(32)}`, 'sha256:', 'nonsense', '']) {
      assert.equal(isValidDigest(bad), false, bad);
    }
  });
});

describe('checkManifestBody', () => {
  it('hashes the exact bytes and keeps the Content-Type without parameters', () => {
    assert.deepEqual(checkManifestBody(body, `${OCI_MANIFEST}; charset=utf-8`, undefined), {
      digest: bodyDigest,
      mediaType: OCI_MANIFEST,
    });
  });

  it('accepts a Docker-Content-Digest that matches the body', () => {
    assert.deepEqual(checkManifestBody(body, OCI_MANIFEST, bodyDigest), { digest: bodyDigest, mediaType: OCI_MANIFEST });
  });

  it('reports a Docker-Content-Digest that does not match the body', () => {
    const wrong = `sha256:${'0'.repeat(64)}`;
    assert.deepEqual(checkManifestBody(body, OCI_MANIFEST, wrong), { kind: 'mismatch', header: wrong, computed: bodyDigest });
  });

  it('verifies a sha512 header with sha512', () => {
    const sha512 = `sha512:${createHash('sha512').update(body).digest('hex')}`;
    assert.deepEqual(checkManifestBody(body, OCI_MANIFEST, sha512), { digest: sha512, mediaType: OCI_MANIFEST });
  });

  it('refuses a body whose mediaType differs from Content-Type', () => {
    const result = checkManifestBody(body, 'application/vnd.docker.distribution.manifest.v2+json', undefined);
    assert.equal('kind' in result && result.kind, 'malformed');
  });

  it('refuses schema1 by media type and by schemaVersion', () => {
    for (const type of [
      'application/vnd.docker.distribution.manifest.v1+prettyjws',
      'application/vnd.docker.distribution.manifest.v1+json',
      'text/plain; charset=utf-8',
    ]) {
      const result = checkManifestBody(body, type, undefined);
      assert.equal('kind' in result && result.kind, 'schema1', type);
    }
    const v1 = Buffer.from('{"schemaVersion":1,"name":"a","tag":"b","fsLayers":[]}');
    const result = checkManifestBody(v1, 'application/json', undefined);
    assert.equal('kind' in result && result.kind, 'schema1');
  });

  it('takes the media type from the body when Content-Type is absent, and refuses when both are', () => {
    assert.deepEqual(checkManifestBody(body, undefined, undefined), { digest: bodyDigest, mediaType: OCI_MANIFEST });
    const bare = checkManifestBody(Buffer.from('{"schemaVersion":2}'), undefined, undefined);
    assert.equal('kind' in bare && bare.kind, 'malformed');
  });

  it('refuses a body that is not a JSON object', () => {
    for (const text of ['not json', '[1,2]', 'null']) {
      const result = checkManifestBody(Buffer.from(text), OCI_MANIFEST, undefined);
      assert.equal('kind' in result && result.kind, 'malformed', text);
    }
  });
});
