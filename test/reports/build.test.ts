// PolicyReports and Events built from an inventory (pure).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InventoryImage } from '../../src/inventory/index.ts';
import { findings, MAX_RESULTS, policyReports } from '../../src/reports/index.ts';

const DIGEST = `sha256:${'1'.repeat(64)}`;

function image(overrides: Partial<InventoryImage>): InventoryImage {
  return {
    namespace: 'apps', apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'uid-web', path: '/spec/template/spec/containers/0/image',
    image: `registry.example/demo/web:v1@${DIGEST}`, state: 'pinned', digest: DIGEST, tagDigest: DIGEST, reason: null, excluded: null, ...overrides,
  };
}

describe('PolicyReports', () => {
  it('one per namespace, a result per image, excluded images skipped, failed ones errors', () => {
    const reports = policyReports([
      image({}),
      image({ name: 'api', uid: 'uid-api', state: 'unpinned', digest: null, tagDigest: null, reason: 'no digest' }),
      image({ name: 'sys', namespace: 'kube-system', state: 'unpinned', excluded: 'namespace kube-system is excluded' }),
      image({ name: 'priv', state: 'failed', reason: 'unauthorized' }),
    ], 1_800_000_000_000);
    assert.deepEqual([...reports.keys()].sort(), ['apps', 'kube-system']);
    const apps = reports.get('apps') as { summary: unknown; results: Array<Record<string, unknown>> };
    assert.deepEqual(apps.summary, { pass: 1, fail: 1, warn: 0, error: 1, skip: 0 });
    assert.deepEqual(apps.results.map((r) => r['result']), ['fail', 'error', 'pass'], 'failures first');
    assert.deepEqual(apps.results[0]?.['resources'], [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'api', namespace: 'apps', uid: 'uid-api' }]);
    assert.deepEqual((reports.get('kube-system') as { summary: unknown }).summary, { pass: 0, fail: 0, warn: 0, error: 0, skip: 1 });
  });

  it(`keeps at most ${String(MAX_RESULTS)} results, the failures, while the summary counts all`, () => {
    const many = Array.from({ length: MAX_RESULTS + 5 }, (_, i) => image({ name: `p${String(i)}`, uid: `u${String(i)}` }));
    const report = policyReports([...many, image({ name: 'bad', state: 'missing' })], 0).get('apps') as { summary: { pass: number; fail: number }; results: Array<Record<string, unknown>> };
    assert.equal(report.results.length, MAX_RESULTS);
    assert.equal(report.results[0]?.['rule'], 'missing');
    assert.deepEqual([report.summary.pass, report.summary.fail], [MAX_RESULTS + 5, 1]);
  });
});

describe('Events', () => {
  it('for drifted and missing images that are not excluded, keyed so the same finding is told apart from a new one', () => {
    const drifted = image({ state: 'drifted', tagDigest: `sha256:${'2'.repeat(64)}`, reason: 'tag v1 now names …' });
    const found = findings([drifted, image({ state: 'missing', excluded: 'matches exclude.images "x"' }), image({ state: 'unpinned' })], 'tagpin-0', 0);
    assert.equal(found.length, 1);
    assert.equal(found[0]?.event['reason'], 'ImageDrifted');
    assert.deepEqual(found[0]?.event['involvedObject'], { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'apps', uid: 'uid-web' });
    const movedAgain = findings([{ ...drifted, tagDigest: `sha256:${'3'.repeat(64)}` }], 'tagpin-0', 0);
    assert.notEqual(movedAgain[0]?.key, found[0]?.key, 'the tag moved again: a new finding');
  });
});
