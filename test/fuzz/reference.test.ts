// Reference parser properties beyond test/reference/properties.test.ts: what pinning keeps, idempotence, and hostile input.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InvalidReferenceError } from '../../src/errors/index.ts';
import { familiarName, formatPinned, normalizedName, parseReference } from '../../src/reference/index.ts';

const chars = (set: string): fc.Arbitrary<string> => fc.constantFrom(...set);
const lower = 'abcdefghijklmnopqrstuvwxyz0123456789';
const word = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_';
const hex = '0123456789abcdef';

const component = fc
  .tuple(fc.string({ unit: chars(lower), minLength: 1, maxLength: 6 }), fc.option(fc.tuple(fc.constantFrom('.', '_', '__', '-', '---'), fc.string({ unit: chars(lower), minLength: 1, maxLength: 6 }))))
  .map(([a, rest]) => (rest === null ? a : `${a}${rest[0]}${rest[1]}`));
/** First components never hold `.`, so none is mistaken for a registry. */
const path = fc.tuple(component.map((c) => c.replaceAll('.', '-')), fc.array(component, { maxLength: 3 })).map(([first, rest]) => [first, ...rest].join('/'));
const registry = fc.option(fc.constantFrom('docker.io', 'index.docker.io', 'localhost:5000', 'ghcr.io', 'registry.example.com:443', '127.0.0.1:5000', '[::1]:5000', 'Registry.Corp'));
const tag = fc.tuple(chars(word), fc.string({ unit: chars(`${word}.-`), maxLength: 40 })).map(([a, b]) => a + b);
const digest = fc.string({ unit: chars(hex), minLength: 64, maxLength: 64 }).map((h) => `sha256:${h}`);

/** Valid references without a digest: the ones /mutate pins. */
const unpinned = fc.tuple(registry, path, fc.option(tag)).map(([r, p, t]) => `${r === null ? '' : `${r}/`}${p}${t === null ? '' : `:${t}`}`);

function rejects(image: string): void {
  assert.throws(() => parseReference(image), (err: unknown) => err instanceof InvalidReferenceError, JSON.stringify(image));
}

describe('reference properties for pinning and hostile input', () => {
  it('pins by appending "@digest" to the string exactly as written (tag-digest output)', () => {
    fc.assert(
      fc.property(unpinned, digest, (image, d) => {
        assert.equal(formatPinned(parseReference(image), d, 'tag-digest'), `${image}@${d}`);
      }),
    );
  });

  it('pinning its own output again changes nothing, in both output formats (reinvocation is idempotent)', () => {
    fc.assert(
      fc.property(unpinned, digest, fc.constantFrom('tag-digest' as const, 'digest' as const), (image, d, format) => {
        const once = formatPinned(parseReference(image), d, format);
        assert.equal(formatPinned(parseReference(once), d, format), once);
      }),
    );
  });

  it('keeps registry and repository through the familiar name docker prints', () => {
    fc.assert(
      fc.property(unpinned, (image) => {
        const ref = parseReference(image);
        assert.equal(normalizedName(parseReference(familiarName(ref))), normalizedName(ref));
      }),
    );
  });

  it('rejects a valid reference once whitespace or a control character is inserted anywhere', () => {
    const bad = chars(' \t\n\r\u0000\u0007\u007f\u00a0\u2028\ufeff');
    fc.assert(
      fc.property(fc.oneof(unpinned, fc.tuple(unpinned, digest).map(([i, d]) => `${i}@${d}`)), fc.nat(), bad, (image, at, c) => {
        const i = at % (image.length + 1);
        rejects(image.slice(0, i) + c + image.slice(i));
      }),
    );
  });

  it('rejects an uppercase letter in the repository path after an explicit registry', () => {
    fc.assert(
      fc.property(fc.constantFrom('ghcr.io', 'localhost:5000', '127.0.0.1:5000'), path, fc.nat(), (host, p, at) => {
        const letters = [...p].map((ch, i) => (/[a-z]/.test(ch) ? i : -1)).filter((i) => i >= 0);
        fc.pre(letters.length > 0);
        const i = letters[at % letters.length] ?? 0;
        rejects(`${host}/${p.slice(0, i)}${(p[i] ?? '').toUpperCase()}${p.slice(i + 1)}`);
      }),
    );
  });

  it('rejects every tag longer than 128 characters and every repository path longer than 255', () => {
    fc.assert(
      fc.property(tag, fc.integer({ min: 129, max: 2000 }), (t, length) => {
        rejects(`app:${t.padEnd(length, 'x')}`);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 256, max: 2000 }), (length) => {
        rejects(`ghcr.io/${'a'.repeat(length)}`);
      }),
    );
  });

  it('answers hostile input of any length with one bounded line, never echoing it whole', () => {
    const hostile = fc.oneof(
      fc.string({ unit: 'binary', minLength: 300, maxLength: 20_000 }),
      fc.tuple(unpinned, fc.integer({ min: 300, max: 20_000 }), chars('-_.:/@[]a')).map(([i, n, c]) => `${i}${c.repeat(n)}`),
      fc.integer({ min: 5_000, max: 100_000 }).map((n) => `a${'-a'.repeat(n)}!`),
    );
    fc.assert(
      fc.property(hostile, (image) => {
        try {
          parseReference(image);
          return;
        } catch (err) {
          assert.ok(err instanceof InvalidReferenceError);
          assert.doesNotMatch(err.message, /[\n\r]/);
          // At most two quoted pieces of 256 characters, each escape up to 6 characters long, plus the rule.
          assert.ok(err.message.length < 4096, `message of ${String(err.message.length)} characters`);
          assert.ok((err.image ?? '').length <= 4096);
        }
      }),
      { numRuns: 60 },
    );
  });
});
