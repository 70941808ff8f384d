import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidReferenceError } from '../../src/errors/index.ts';
import {
  familiarName,
  formatPinned,
  isDockerHubHost,
  isValidDigest,
  normalizedName,
  normalizedString,
  parseReference,
  registryApiHost,
} from '../../src/reference/index.ts';

const digest = `sha256:${'a1'.repeat(32)}`;
const otherDigest = `sha256:${'b2'.repeat(32)}`;

describe('formatPinned', () => {
  const cases: readonly (readonly [string, string, string])[] = [
    ['nginx', `nginx@${digest}`, `nginx@${digest}`],
    ['nginx:1.27', `nginx:1.27@${digest}`, `nginx@${digest}`],
    ['docker.io/library/nginx:1.27', `docker.io/library/nginx:1.27@${digest}`, `docker.io/library/nginx@${digest}`],
    ['index.docker.io/nginx:1', `index.docker.io/nginx:1@${digest}`, `index.docker.io/nginx@${digest}`],
    ['registry:5000/app', `registry:5000/app@${digest}`, `registry:5000/app@${digest}`],
    ['[::1]:5000/app:v2', `[::1]:5000/app:v2@${digest}`, `[::1]:5000/app@${digest}`],
    [`app:latest@${otherDigest}`, `app:latest@${digest}`, `app@${digest}`],
  ];
  for (const [image, tagDigest, digestOnly] of cases) {
    it(`keeps ${image} as written and appends the digest`, () => {
      const ref = parseReference(image);
      assert.equal(formatPinned(ref, digest, 'tag-digest'), tagDigest);
      assert.equal(formatPinned(ref, digest, 'digest'), digestOnly);
    });
  }

  it('refuses to pin with a malformed digest, naming the image', () => {
    const ref = parseReference('nginx:1.27');
    for (const bad of ['', 'sha256:abc', `SHA256:${'a'.repeat(64)}`, `md5:${'a'.repeat(32)}`]) {
      assert.throws(
        () => formatPinned(ref, bad, 'tag-digest'),
        (err: unknown) => err instanceof InvalidReferenceError && err.message.startsWith('cannot pin image "nginx:1.27": '),
      );
    }
  });

  it('produces output that parses back to the same image and the new digest', () => {
    const ref = parseReference('ghcr.io/org/app:1.0');
    const pinned = parseReference(formatPinned(ref, digest, 'tag-digest'));
    assert.equal(pinned.registry, 'ghcr.io');
    assert.equal(pinned.repository, 'org/app');
    assert.equal(pinned.tag, '1.0');
    assert.equal(pinned.digest, digest);
  });
});

describe('normalized and familiar names', () => {
  it('normalizes Docker Hub names fully', () => {
    assert.equal(normalizedName(parseReference('nginx:1')), 'docker.io/library/nginx');
    assert.equal(normalizedName(parseReference('index.docker.io/a/b')), 'docker.io/a/b');
    assert.equal(normalizedString(parseReference(`nginx:1@${digest}`)), `docker.io/library/nginx:1@${digest}`);
    assert.equal(normalizedString(parseReference('localhost:5000/app')), 'localhost:5000/app');
  });

  it('shortens Docker Hub names the way docker prints them', () => {
    assert.equal(familiarName(parseReference('docker.io/library/nginx:1')), 'nginx');
    assert.equal(familiarName(parseReference('docker.io/bitnami/redis')), 'bitnami/redis');
    assert.equal(familiarName(parseReference('docker.io/library/a/b')), 'library/a/b');
    assert.equal(familiarName(parseReference('quay.io/library/x')), 'quay.io/library/x');
  });
});

describe('registry hosts', () => {
  it('sends Docker Hub API calls to registry-1.docker.io and leaves other registries alone', () => {
    assert.equal(registryApiHost('docker.io'), 'registry-1.docker.io');
    assert.equal(registryApiHost('ghcr.io'), 'ghcr.io');
    assert.equal(registryApiHost('127.0.0.1:5000'), '127.0.0.1:5000');
  });

  it('knows the names of Docker Hub', () => {
    for (const host of ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'Docker.IO']) assert.ok(isDockerHubHost(host), host);
    for (const host of ['ghcr.io', 'docker.com', 'mirror.docker.io']) assert.ok(!isDockerHubHost(host), host);
  });

  it('accepts only registered digest algorithms with exact lowercase hex', () => {
    assert.ok(isValidDigest(digest));
    assert.ok(isValidDigest(`sha512:${'c'.repeat(128)}`));
    assert.ok(!isValidDigest(`sha256:${'c'.repeat(63)}`));
    assert.ok(!isValidDigest(`sha1:${'c'.repeat(40)}`));
  });
});
