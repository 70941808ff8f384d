// Splicing pinned values into manifest text: quoting styles, anchors, merge keys, documents.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseManifest } from '../../src/cli/manifests.ts';
import { applyImageEdits } from '../../src/cli/splice.ts';

// Values only need to look like what the pipeline produces; nothing here is resolved.
const DIGEST = `sha256:${'ab'.repeat(32)}`;

function pin(text: string, edits: ReadonlyArray<readonly [number, string, string]>): string {
  const manifest = parseManifest({ name: 'test.yaml', path: undefined, text });
  return applyImageEdits(
    manifest,
    edits.map(([document, pointer, value]) => ({ document, pointer, value })),
  );
}

describe('applyImageEdits', () => {
  test('re-quotes each value in the style it was written in', () => {
    const text = "a:\n  - image: x/y:1\n  - image: 'x/y:2'\n  - image: \"x/y:3\"\n  - {image: x/y:4, name: n}\n";
    const out = pin(text, [
      [0, '/a/0/image', `x/y:1@${DIGEST}`],
      [0, '/a/1/image', `x/y:2@${DIGEST}`],
      [0, '/a/2/image', `x/y:3@${DIGEST}`],
      [0, '/a/3/image', `x/y:4@${DIGEST}`],
    ]);
    assert.equal(
      out,
      `a:\n  - image: x/y:1@${DIGEST}\n  - image: 'x/y:2@${DIGEST}'\n  - image: "x/y:3@${DIGEST}"\n  - {image: x/y:4@${DIGEST}, name: n}\n`,
    );
  });

  test('a plain value that would not stay plain is double-quoted', () => {
    const out = pin('image: x\n', [[0, '/image', `[::1]:5000/app:v1@${DIGEST}`]]);
    assert.equal(out, `image: "[::1]:5000/app:v1@${DIGEST}"\n`);
  });

  test('an anchored value used through an alias is rewritten once, at the anchor', () => {
    const text = 'a: &i x/y:1\nb: *i\n';
    assert.equal(pin(text, [[0, '/a', `x/y:1@${DIGEST}`], [0, '/b', `x/y:1@${DIGEST}`]]), `a: &i x/y:1@${DIGEST}\nb: *i\n`);
  });

  test('a value reached through a merge key is rewritten where it is written', () => {
    const text = 'base: &b\n  image: x/y:1\nuse:\n  <<: *b\n  name: n\n';
    const out = pin(text, [[0, '/base/image', `x/y:1@${DIGEST}`], [0, '/use/image', `x/y:1@${DIGEST}`]]);
    assert.equal(out, `base: &b\n  image: x/y:1@${DIGEST}\nuse:\n  <<: *b\n  name: n\n`);
  });

  test('refuses an edit that would change another value through a shared anchor', () => {
    const text = 'a: &i x/y:1\nb: *i\n';
    assert.throws(() => pin(text, [[0, '/a', `x/y:1@${DIGEST}`]]), /would change more than image values/);
  });

  test('edits the right document of a multi-document file', () => {
    const text = 'image: x/y:1\n---\nimage: x/y:1\n';
    assert.equal(pin(text, [[1, '/image', `x/y:1@${DIGEST}`]]), `image: x/y:1\n---\nimage: x/y:1@${DIGEST}\n`);
  });
});
