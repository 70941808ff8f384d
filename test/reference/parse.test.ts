import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidReferenceError } from '../../src/errors/index.ts';
import { parseReference } from '../../src/reference/index.ts';

const sha256 = `sha256:${'0123456789abcdef'.repeat(4)}`;
const sha384 = `sha384:${'0123456789abcdef'.repeat(6)}`;
const sha512 = `sha512:${'0123456789abcdef'.repeat(8)}`;

/** Asserts `image` is rejected with the one-line message `invalid image reference "image": …rule…`. */
function assertRejected(image: string, rule: string | RegExp): void {
  assert.throws(
    () => parseReference(image),
    (err: unknown) => {
      assert.ok(err instanceof InvalidReferenceError, `expected InvalidReferenceError, got ${String(err)}`);
      assert.equal(err.code, 'INVALID_REFERENCE');
      const shown = image.length > 256 ? `${image.slice(0, 256)}…` : image;
      assert.ok(err.message.startsWith(`invalid image reference ${JSON.stringify(shown)}: `), err.message);
      assert.doesNotMatch(err.message, /\n/);
      if (typeof rule === 'string') assert.ok(err.message.endsWith(rule), `${err.message} should end with ${rule}`);
      else assert.match(err.message, rule);
      assert.equal(err.image, image);
      return true;
    },
  );
}

describe('parseReference accepts the docker grammar and normalizes it', () => {
  const cases: readonly (readonly [string, Record<string, string>])[] = [
    ['nginx', { name: 'nginx', registry: 'docker.io', repository: 'library/nginx' }],
    ['nginx:1.27', { name: 'nginx', registry: 'docker.io', repository: 'library/nginx', tag: '1.27' }],
    ['bitnami/redis:7', { name: 'bitnami/redis', registry: 'docker.io', repository: 'bitnami/redis', tag: '7' }],
    ['docker.io/nginx', { name: 'docker.io/nginx', registry: 'docker.io', repository: 'library/nginx' }],
    ['docker.io/library/nginx', { name: 'docker.io/library/nginx', registry: 'docker.io', repository: 'library/nginx' }],
    ['index.docker.io/nginx:1', { name: 'index.docker.io/nginx', registry: 'docker.io', repository: 'library/nginx', tag: '1' }],
    ['index.docker.io/a/b', { name: 'index.docker.io/a/b', registry: 'docker.io', repository: 'a/b' }],
    ['localhost/app', { name: 'localhost/app', registry: 'localhost', repository: 'app' }],
    ['localhost:5000/app:v1', { name: 'localhost:5000/app', registry: 'localhost:5000', repository: 'app', tag: 'v1' }],
    // field lesson: the port is not a tag
    ['registry:5000/app', { name: 'registry:5000/app', registry: 'registry:5000', repository: 'app' }],
    ['ghcr.io/org/team/app:2.0', { name: 'ghcr.io/org/team/app', registry: 'ghcr.io', repository: 'org/team/app', tag: '2.0' }],
    ['127.0.0.1:5000/demo/app', { name: '127.0.0.1:5000/demo/app', registry: '127.0.0.1:5000', repository: 'demo/app' }],
    ['[::1]:5000/app:t', { name: '[::1]:5000/app', registry: '[::1]:5000', repository: 'app', tag: 't' }],
    ['[2001:db8::1]/app', { name: '[2001:db8::1]/app', registry: '[2001:db8::1]', repository: 'app' }],
    ['Registry/app', { name: 'Registry/app', registry: 'Registry', repository: 'app' }],
    ['my-registry.example.com/a_b/c__d/e-f/g--h/i.j', {
      name: 'my-registry.example.com/a_b/c__d/e-f/g--h/i.j', registry: 'my-registry.example.com', repository: 'a_b/c__d/e-f/g--h/i.j',
    }],
    // without a `/`, a `:` is a tag, even when it looks like a port
    ['localhost:5000', { name: 'localhost', registry: 'docker.io', repository: 'library/localhost', tag: '5000' }],
    ['nginx:Latest_2.x-rc', { name: 'nginx', registry: 'docker.io', repository: 'library/nginx', tag: 'Latest_2.x-rc' }],
    [`app@${sha256}`, { name: 'app', registry: 'docker.io', repository: 'library/app', digest: sha256 }],
    [`app:latest@${sha256}`, { name: 'app', registry: 'docker.io', repository: 'library/app', tag: 'latest', digest: sha256 }],
    [`q.io/x:1@${sha512}`, { name: 'q.io/x', registry: 'q.io', repository: 'x', tag: '1', digest: sha512 }],
    [`n:${'t'.repeat(128)}`, { name: 'n', registry: 'docker.io', repository: 'library/n', tag: 't'.repeat(128) }],
    [`r.io/${'a'.repeat(255)}`, { name: `r.io/${'a'.repeat(255)}`, registry: 'r.io', repository: 'a'.repeat(255) }],
  ];
  for (const [image, expected] of cases) {
    it(`reads ${image.length > 60 ? `${image.slice(0, 60)}…` : image}`, () => {
      assert.deepEqual(parseReference(image), { original: image, ...expected });
    });
  }

  it('keeps the original string exactly as written', () => {
    assert.equal(parseReference('index.docker.io/nginx:1').original, 'index.docker.io/nginx:1');
  });
});

describe('parseReference rejects what docker rejects, naming the rule', () => {
  const cases: readonly (readonly [string, string | RegExp])[] = [
    ['', 'must not be empty'],
    ['0123456789abcdef'.repeat(4), 'a bare 64-character hex string is an image ID, not a repository name'],
    ['Nginx', 'repository name must be lowercase'],
    ['library/Nginx', 'repository name must be lowercase'],
    ['ghcr.io/Org/app', 'repository name must be lowercase'],
    ['nginx:', 'tag after ":" is empty'],
    [`nginx:${'t'.repeat(129)}`, 'tag is longer than 128 characters'],
    ['nginx:-rc', /tag "-rc" is invalid/],
    ['nginx:.x', /tag ".x" is invalid/],
    ['nginx:a+b', /tag "a\+b" is invalid/],
    [':1.0', 'repository name is empty'],
    [`@${sha256}`, 'repository name is empty'],
    [`r.io/${'a'.repeat(256)}`, 'repository path is longer than 255 characters'],
    [`${'a'.repeat(248)}`, 'repository path is longer than 255 characters'],
    ['a//b', /empty component/],
    ['r.io/a/', /empty component/],
    ['/a', /empty component/],
    ['a-/b', /component "a-" is invalid/],
    ['r.io/a..b', /component "a..b" is invalid/],
    ['r.io/a___b', /component "a___b" is invalid/],
    ['r.io/_a', /component "_a" is invalid/],
    ['my app', /component "my app" is invalid/],
    ['-bad.io/app', /registry host "-bad.io" is invalid/],
    ['bad-.io/app', /registry host "bad-.io" is invalid/],
    ['r.io:port/app', /registry host "r.io:port" is invalid/],
    ['[::1/app', /registry host "\[::1" is invalid/],
    ['[zz::1]:5000/app', /registry host "\[zz::1\]:5000" is invalid/],
    ['nginx@sha256:abc', 'sha256 digest must be 64 lowercase hex characters after "sha256:"'],
    [`nginx@sha256:${'A'.repeat(64)}`, 'sha256 digest must be 64 lowercase hex characters after "sha256:"'],
    [`nginx@sha256:${'a'.repeat(65)}`, 'sha256 digest must be 64 lowercase hex characters after "sha256:"'],
    [`nginx@${sha384}`, 'digest algorithm "sha384" is not registered by OCI (use sha256 or sha512)'],
    [`nginx@sha512:${'a'.repeat(64)}`, 'sha512 digest must be 128 lowercase hex characters after "sha512:"'],
    [`nginx@md5:${'a'.repeat(32)}`, 'digest algorithm "md5" is not registered by OCI (use sha256 or sha512)'],
    [`nginx@blake3:${'a'.repeat(64)}`, 'digest algorithm "blake3" is not registered by OCI (use sha256 or sha512)'],
    [`nginx@sha256`, 'sha256 digest must be 64 lowercase hex characters after "sha256:"'],
    ['nginx@', 'digest is empty'],
    ['nginx@x:zz', /digest must be algorithm:hex/],
    [`nginx@${sha256}@${sha256}`, 'contains more than one "@"'],
    ['nginx\n:1', /component "nginx\\n" is invalid/],
  ];
  for (const [image, rule] of cases) {
    it(`rejects ${JSON.stringify(image.length > 60 ? `${image.slice(0, 60)}…` : image)}`, () => {
      assertRejected(image, rule);
    });
  }

  it('rejects input over 4096 characters before matching it, and quotes only its start', () => {
    const image = `r.io/${'a'.repeat(5000)}`;
    assert.throws(
      () => parseReference(image),
      (err: unknown) =>
        err instanceof InvalidReferenceError &&
        err.message.endsWith(': longer than 4096 characters') &&
        err.message.length < 400 &&
        (err.image?.length ?? 0) < 400,
    );
  });

  it('rejects inputs built to make backtracking patterns slow, like any other bad input', () => {
    const adversarial = [
      `${'a'.repeat(4000)}!`,
      `${'a-'.repeat(2000)}!`,
      `${'a.'.repeat(2000)}/x`,
      `${'0'.repeat(2040)}-/a`,
      `r.io/${'a_'.repeat(2000)}`,
      `r.io/a@sha256:${'a'.repeat(4000)}`,
      `[${':'.repeat(4000)}/a`,
    ];
    for (const image of adversarial) {
      assert.throws(() => parseReference(image), InvalidReferenceError, image.slice(0, 20));
    }
  });

  it('answers a non-string with an InvalidReferenceError, not a TypeError', () => {
    for (const value of [undefined, null, 42, {}, Object.create(null) as object]) {
      assert.throws(() => parseReference(value as unknown as string), InvalidReferenceError);
    }
  });
});
