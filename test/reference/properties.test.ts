import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InvalidReferenceError } from '../../src/errors/index.ts';
import { formatPinned, normalizedString, parseReference } from '../../src/reference/index.ts';
import type { ImageReference } from '../../src/reference/index.ts';

const chars = (set: string): fc.Arbitrary<string> => fc.constantFrom(...set);
const lower = 'abcdefghijklmnopqrstuvwxyz0123456789';
const hex = '0123456789abcdef';
const word = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_';

const alphanumeric = fc.string({ unit: chars(lower), minLength: 1, maxLength: 6 });
/** A path component; the first one never has a `.`, so it is never mistaken for a registry. */
const pathComponent = (separators: readonly string[]): fc.Arbitrary<string> =>
  fc
    .tuple(alphanumeric, fc.array(fc.tuple(fc.constantFrom(...separators), alphanumeric), { maxLength: 2 }))
    .map(([head, rest]) => head + rest.map(([sep, alnum]) => sep + alnum).join(''));
const path = fc
  .tuple(pathComponent(['_', '__', '-', '--']), fc.array(pathComponent(['.', '_', '__', '-']), { maxLength: 3 }))
  .map(([first, rest]) => [first, ...rest].join('/'));

const label = fc
  .tuple(chars(`${lower}ABC`), fc.string({ unit: chars(`${lower}-`), maxLength: 4 }), chars(lower))
  .map(([a, mid, z]) => `${a}${mid}${z}`);
const port = fc.integer({ min: 1, max: 65535 }).map(String);
/** Registries as written, with the registry they normalize to. */
const registry: fc.Arbitrary<{ readonly written: string; readonly normalized: string } | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('docker.io', 'index.docker.io').map((written) => ({ written, normalized: 'docker.io' })),
  fc.constantFrom('localhost', 'localhost:5000', '[::1]:5000', '[fe80::1]', 'Registry').map((h) => ({ written: h, normalized: h })),
  fc.tuple(fc.array(label, { minLength: 2, maxLength: 3 }), fc.option(port)).map(([labels, p]) => {
    const h = labels.join('.') + (p === null ? '' : `:${p}`);
    return { written: h, normalized: h };
  }),
  fc.tuple(label, port).map(([l, p]) => ({ written: `${l}:${p}`, normalized: `${l}:${p}` })),
);
const tag = fc
  .tuple(chars(word), fc.string({ unit: chars(`${word}.-`), maxLength: 127 }))
  .map(([first, rest]) => first + rest);
const digest = fc.oneof(
  fc.string({ unit: chars(hex), minLength: 64, maxLength: 64 }).map((h) => `sha256:${h}`),
  fc.string({ unit: chars(hex), minLength: 128, maxLength: 128 }).map((h) => `sha512:${h}`),
);

/** A valid reference string together with the components it must parse to. */
const validReference = fc.tuple(registry, path, fc.option(tag), fc.option(digest)).map(([reg, p, t, d]) => {
  const hub = reg === undefined || reg.normalized === 'docker.io';
  const expected = {
    registry: reg?.normalized ?? 'docker.io',
    repository: hub && !p.includes('/') ? `library/${p}` : p,
    tag: t ?? undefined,
    digest: d ?? undefined,
  };
  const image = `${reg === undefined ? '' : `${reg.written}/`}${p}${t === null ? '' : `:${t}`}${d === null ? '' : `@${d}`}`;
  return { image, expected };
});

const components = (ref: ImageReference): Record<string, string | undefined> => ({
  registry: ref.registry,
  repository: ref.repository,
  tag: ref.tag,
  digest: ref.digest,
});

/** The property every string must satisfy: a reference that keeps the string, or a one-line InvalidReferenceError. */
function parsesOrRejectsCleanly(image: string): void {
  let ref: ImageReference;
  try {
    ref = parseReference(image);
  } catch (err) {
    assert.ok(err instanceof InvalidReferenceError, `threw ${String(err)} for ${JSON.stringify(image)}`);
    assert.ok(err.message.startsWith('invalid image reference "'), err.message);
    assert.doesNotMatch(err.message, /[\n\r]/);
    return;
  }
  assert.equal(ref.original, image);
}

const mutation = fc.tuple(
  fc.constantFrom('insert', 'delete', 'replace'),
  fc.nat(),
  chars(':/@.[]-_ABZaz09\n\u00e9\ud83d'),
);
const mutatedReference = fc.tuple(validReference, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([{ image }, edits]) =>
  edits.reduce((s, [kind, at, c]) => {
    const i = s.length === 0 ? 0 : at % s.length;
    if (kind === 'insert') return s.slice(0, i) + c + s.slice(i);
    if (kind === 'delete') return s.slice(0, i) + s.slice(i + 1);
    return s.slice(0, i) + c + s.slice(i + 1);
  }, image),
);

// The whole grammar of distribution/reference regexp.go as one pattern, to cross-check the piecewise parser.
const referenceRegexp = (() => {
  const alnum = '[a-z0-9]+';
  const sep = '(?:[._]|__|[-]+)';
  const comp = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
  const host = `(?:${comp}(?:\\.${comp})*|\\[(?:[a-fA-F0-9:]+)\\])`;
  const pathComp = `${alnum}(?:${sep}${alnum})*`;
  const name = `(?:${host}(?::[0-9]+)?/)?${pathComp}(?:/${pathComp})*`;
  const dig = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
  return new RegExp(`^(${name})(?::([\\w][\\w.-]{0,127}))?(?:@(${dig}))?$`);
})();

describe('reference properties', () => {
  it('parses every generated valid reference to the components it was built from', () => {
    fc.assert(
      fc.property(validReference, ({ image, expected }) => {
        assert.deepEqual(components(parseReference(image)), expected);
      }),
    );
  });

  it('round-trips: the normalized form and the pinned form parse back to the same components', () => {
    fc.assert(
      fc.property(validReference, digest, ({ image }, pin) => {
        const ref = parseReference(image);
        assert.deepEqual(components(parseReference(normalizedString(ref))), components(ref));
        const pinned = parseReference(formatPinned(ref, pin, 'tag-digest'));
        assert.deepEqual(components(pinned), { ...components(ref), digest: pin });
        const digestOnly = parseReference(formatPinned(ref, pin, 'digest'));
        assert.deepEqual(components(digestOnly), { ...components(ref), tag: undefined, digest: pin });
      }),
    );
  });

  it('either parses or throws InvalidReferenceError for any string', () => {
    fc.assert(fc.property(fc.string({ maxLength: 80 }), parsesOrRejectsCleanly));
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 80 }), parsesOrRejectsCleanly));
    fc.assert(fc.property(fc.string({ unit: chars('a:/@.[]-_A0'), maxLength: 30 }), parsesOrRejectsCleanly));
  });

  it('either parses or throws InvalidReferenceError for mutations of valid references', () => {
    fc.assert(fc.property(mutatedReference, parsesOrRejectsCleanly), { numRuns: 300 });
  });

  it('accepts only strings whose normalized form the full reference grammar matches', () => {
    fc.assert(
      fc.property(fc.oneof(mutatedReference, validReference.map((v) => v.image)), (image) => {
        let ref: ImageReference;
        try {
          ref = parseReference(image);
        } catch {
          return;
        }
        assert.match(normalizedString(ref), referenceRegexp);
      }),
      { numRuns: 300 },
    );
  });
});
