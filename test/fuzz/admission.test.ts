// AdmissionReview fuzzing against a real `tagpin serve`: always 200 with a valid review or 400/413, never 500, never a crash.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { requireRegistryBinary, startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { admissionReview } from '../support/reviews.ts';
import { startServe } from '../support/serve.ts';
import type { TagpinServer } from '../support/serve.ts';
import { checkCase, fuzzCases, fuzzConfig } from './reviews.ts';

/** Enough for every shape to turn up several times in seconds; `npm run fuzz` runs 10,000. */
const RUNS = 200;

describe('AdmissionReview fuzzing against tagpin serve', () => {
  let registry: TestRegistry;
  let server: TagpinServer;
  const statuses = new Map<number, number>();

  before(async () => {
    requireRegistryBinary();
    registry = await startRegistry('http');
    await registry.push('demo/app', 'v1', 'oci-manifest');
    server = await startServe({ config: fuzzConfig(registry.host) });
  });
  after(async () => {
    await server?.stop();
    await registry?.stop();
  });

  /** Still up, and nothing logged as an internal error (level error or worse) nor written to stderr. */
  async function expectHealthy(): Promise<void> {
    const health = await server.get('/healthz');
    assert.equal(health.status, 200);
    const errors = server.lines().filter((line) => typeof line['level'] === 'number' && line['level'] >= 50);
    assert.deepEqual(errors.map((e) => `${String(e['msg'])}: ${String((e['err'] as { stack?: unknown } | undefined)?.stack ?? '').split('\n').slice(0, 4).join(' | ')}`), []);
    assert.equal(server.stderr(), '');
  }

  it(`answers ${String(RUNS)} generated and mutated reviews with 200 and a valid review, or 400/413, and stays healthy`, async () => {
    await fc.assert(
      fc.asyncProperty(fuzzCases(registry.host), async (c) => {
        const { status } = await checkCase(server, c);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }),
      { numRuns: RUNS },
    );
    assert.ok((statuses.get(200) ?? 0) > RUNS / 5, `only ${String(statuses.get(200) ?? 0)} reviews were answered with 200`);
    assert.ok((statuses.get(400) ?? 0) > 0, 'no body was refused');
    await expectHealthy();
  });

  it('judges an image nested 20,000 levels deep as invalid, on both webhooks, without an internal error, and stays healthy', async () => {
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    for (const webhook of ['mutate', 'validate'] as const) {
      const review = admissionReview({ object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'demo' }, spec: { containers: [{ name: 'c', image: '__DEEP__' }] } } });
      const answer = await server.post(`/${webhook}`, JSON.stringify(review).replace('"__DEEP__"', deep), { 'content-type': 'application/json' });
      assert.equal(answer.status, 200, answer.text.slice(0, 300));
      const response = (answer.json as { response: { allowed: boolean; status?: { message: string } } }).response;
      assert.equal(response.allowed, false);
      assert.match(response.status?.message ?? '', /\/spec\/containers\/0\/image "\[…\]"/);
      assert.doesNotMatch(response.status?.message ?? '', /tagpin failed/);
    }
    await expectHealthy();
  });
});
