// Admission warnings stay within the API server's limits.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { boundWarnings, WARNING_MAX_LENGTH, WARNINGS_MAX_TOTAL } from '../../src/admission/index.ts';

describe('boundWarnings', () => {
  it('passes short warnings through', () => {
    assert.deepEqual(boundWarnings(['a', 'b']), ['a', 'b']);
  });

  it('cuts a long warning to 120 characters with an ellipsis', () => {
    const [cut] = boundWarnings(['x'.repeat(500)]);
    assert.equal(cut?.length, WARNING_MAX_LENGTH);
    assert.ok(cut?.endsWith('…'));
  });

  it('folds line breaks so a warning stays one line', () => {
    assert.deepEqual(boundWarnings(['one\ntwo   three']), ['one two three']);
  });

  it('keeps the total within 4096 characters and says how many were left out', () => {
    const many = Array.from({ length: 100 }, (_, i) => `${String(i).padStart(3, '0')} ${'y'.repeat(110)}`);
    const bounded = boundWarnings(many);
    const total = bounded.reduce((sum, w) => sum + w.length, 0);
    assert.ok(total <= WARNINGS_MAX_TOTAL, String(total));
    assert.ok(bounded.length < many.length);
    assert.match(bounded.at(-1) ?? '', new RegExp(`^\\.\\.\\. and ${String(many.length - bounded.length + 1)} more warnings`));
  });

  it('keeps the last warning whole when it fits exactly', () => {
    const many = Array.from({ length: 34 }, () => 'z'.repeat(120));
    const bounded = boundWarnings(many);
    assert.ok(bounded.reduce((sum, w) => sum + w.length, 0) <= WARNINGS_MAX_TOTAL);
    assert.equal(bounded.length, 34);
  });
});
