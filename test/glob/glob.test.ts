// The one glob engine, in each dialect its callers use.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileGlob, globMatches } from '../../src/glob/index.ts';

function matches(pattern: string, text: string, options: Parameters<typeof compileGlob>[1] = {}): boolean {
  const glob = compileGlob(pattern, options);
  assert.ok(glob !== undefined, `${pattern} compiles`);
  return globMatches(glob, text);
}

describe('compileGlob / globMatches', () => {
  it('has filepath.Match semantics without a separator: * crosses everything', () => {
    assert.equal(matches('docker.io/istio/*', 'docker.io/istio/proxyv2:1.22'), true);
    assert.equal(matches('a?c', 'abc'), true);
    assert.equal(matches('[a-c]x', 'bx'), true);
    assert.equal(matches('[^a-c]x', 'bx'), false);
    assert.equal(matches('\\*', '*'), true);
    assert.equal(matches('\\*', 'x'), false);
  });

  it('keeps * and ? inside one segment when given a separator', () => {
    const host = { separator: '.' } as const;
    assert.equal(matches('*.example.com', 'a.example.com', host), true);
    assert.equal(matches('*.example.com', 'a.b.example.com', host), false);
    assert.equal(matches('a?b', 'a.b', host), false);
    assert.equal(matches('[^x]', '.', host), false);
  });

  it('reads [!x] as negation only in the shell dialect', () => {
    assert.equal(matches('[!a]', 'b', { bangNegates: true }), true);
    assert.equal(matches('[!a]', 'a', { bangNegates: true }), false);
    assert.equal(matches('[!a]', '!'), true, "Go's filepath.Match: ! is a member of the class");
  });

  it('reports a malformed pattern as undefined', () => {
    assert.equal(compileGlob('[a-'), undefined);
    assert.equal(compileGlob('[]'), undefined);
  });

  it('answers patterns with many stars correctly', () => {
    const glob = compileGlob('*a*a*a*a*a*a*a*a*b');
    assert.ok(glob !== undefined);
    assert.equal(globMatches(glob, 'a'.repeat(5000)), false);
  });
});
