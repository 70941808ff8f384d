// /validate end to end in each validate.action: deny, warn and audit.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deployment } from '../support/objects.ts';
import { sample } from '../support/prometheus.ts';
import { admissionReview } from '../support/reviews.ts';
import { startServe } from '../support/serve.ts';
import type { LogLine, TagpinServer } from '../support/serve.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const policy = { mutableTags: ['dev-.*'] };

describe('tagpin serve /validate', () => {
  let deny: TagpinServer;
  let warn: TagpinServer;
  let audit: TagpinServer;

  before(async () => {
    const start = (action: string): Promise<TagpinServer> => startServe({ config: { validate: { action, ...policy } } });
    [deny, warn, audit] = await Promise.all([start('deny'), start('warn'), start('audit')]);
  });
  after(async () => {
    await Promise.all([deny?.stop(), warn?.stop(), audit?.stop()]);
  });

  const mixed = (): Record<string, unknown> =>
    deployment(['nginx:latest', 'redis', 'registry.example.com:5000/app:dev-42', 'app:1.0', `busybox@${DIGEST}`, `nginx:latest@${DIGEST}`]);

  it('deny: rejects with 403 Forbidden and lists every offending image with its path and reason', async () => {
    const answer = await deny.review('validate', admissionReview({ object: mixed() }));
    assert.equal(answer.response.allowed, false);
    assert.equal(answer.response.status?.code, 403);
    assert.equal(answer.response.status?.reason, 'Forbidden');
    assert.equal(answer.response.patch, undefined);
    const message = answer.response.status?.message ?? '';
    const base = '/spec/template/spec/containers';
    assert.ok(message.includes(`${base}/0/image "nginx:latest": tag latest is mutable`), message);
    assert.ok(message.includes(`${base}/1/image "redis": no tag or digest`), message);
    assert.ok(message.includes(`${base}/2/image "registry.example.com:5000/app:dev-42": tag dev-42`), message);
    for (const fine of ['/3/image', '/4/image', '/5/image']) assert.ok(!message.includes(`${base}${fine}`), message);

    const line = await deny.auditFor(answer.response.uid, 'validate');
    assert.equal(line['webhook'], 'validate');
    assert.equal(line['decision'], 'denied');
    assert.deepEqual(
      (line['images'] as LogLine[]).map((i) => i['verdict']),
      ['violation', 'violation', 'violation', 'ok', 'ok', 'ok'],
    );
  });

  it('deny: admits an object whose images are all acceptable', async () => {
    const answer = await deny.review('validate', admissionReview({ object: deployment(['app:1.0', `busybox@${DIGEST}`]) }));
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.status, undefined);
    assert.equal((await deny.auditFor(answer.response.uid, 'validate'))['decision'], 'allowed');
  });

  it('deny: rejects invalid references and images that are not strings', async () => {
    const answer = await deny.review('validate', admissionReview({ object: deployment(['nginx::1', 7]) }));
    assert.equal(answer.response.allowed, false);
    const message = answer.response.status?.message ?? '';
    assert.match(message, /containers\/0\/image "nginx::1": /);
    assert.match(message, /containers\/1\/image "7": image is not a string/);
    assert.deepEqual(
      ((await deny.auditFor(answer.response.uid, 'validate'))['images'] as LogLine[]).map((i) => i['verdict']),
      ['invalid', 'invalid'],
    );
  });

  it('deny: an UPDATE that leaves a violating image as it was is warned about, not denied', async () => {
    const object = deployment(['nginx:latest']);
    const answer = await deny.review('validate', admissionReview({ operation: 'UPDATE', object, oldObject: object }));
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.warnings?.length, 1);
    assert.match(answer.response.warnings?.[0] ?? '', /nginx:latest/);
    assert.equal((await deny.auditFor(answer.response.uid, 'validate'))['decision'], 'warned');
    // Changing it to another violating image is judged in full.
    const changed = await deny.review(
      'validate',
      admissionReview({ operation: 'UPDATE', object: deployment(['redis:latest']), oldObject: object }),
    );
    assert.equal(changed.response.allowed, false);
  });

  it('deny: leaves excluded namespaces alone', async () => {
    const answer = await deny.review('validate', admissionReview({ object: deployment(['nginx:latest']), namespace: 'kube-system' }));
    assert.equal(answer.response.allowed, true);
    const line = await deny.auditFor(answer.response.uid, 'validate');
    assert.equal((line['images'] as LogLine[])[0]?.['verdict'], 'excluded');
  });

  it('warn: admits with one warning per offending image, each at most 120 characters', async () => {
    const answer = await warn.review('validate', admissionReview({ object: mixed() }));
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.status, undefined);
    const warnings = answer.response.warnings ?? [];
    assert.equal(warnings.length, 3);
    assert.match(warnings[0] ?? '', /^\/spec\/template\/spec\/containers\/0\/image "nginx:latest": tag latest is mutable/);
    for (const warning of warnings) assert.ok(warning.length <= 120, warning);
    assert.equal((await warn.auditFor(answer.response.uid, 'validate'))['decision'], 'warned');
  });

  it('warn: keeps all warnings of a large object within 4096 characters', async () => {
    const many = Array.from({ length: 120 }, (_, i) => `registry.example.com/team/service-${String(i)}:latest`);
    const answer = await warn.review('validate', admissionReview({ object: deployment(many) }));
    const warnings = answer.response.warnings ?? [];
    const total = warnings.reduce((sum, w) => sum + w.length, 0);
    assert.ok(total <= 4096, `warnings total ${String(total)} characters`);
    for (const warning of warnings) assert.ok(warning.length <= 120, warning);
    assert.match(warnings.at(-1) ?? '', /more warnings/);
    // The audit record still has every image.
    assert.equal(((await warn.auditFor(answer.response.uid, 'validate'))['images'] as LogLine[]).length, 120);
  });

  it('audit: admits without warnings and records the violations', async () => {
    const answer = await audit.review('validate', admissionReview({ object: mixed() }));
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.warnings, undefined);
    const line = await audit.auditFor(answer.response.uid, 'validate');
    assert.equal(line['decision'], 'allowed');
    const verdicts = (line['images'] as LogLine[]).map((i) => i['verdict']);
    assert.deepEqual(verdicts, ['violation', 'violation', 'violation', 'ok', 'ok', 'ok']);
    assert.equal((line['images'] as LogLine[])[0]?.['reason'], 'tag latest is mutable');
  });

  it('admits kinds it does not read, with a warning, and DELETE without judging', async () => {
    const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'demo' }, data: { image: 'nginx:latest' } };
    const unknown = await deny.review('validate', admissionReview({ object: configMap }));
    assert.equal(unknown.response.allowed, true);
    assert.match(unknown.response.warnings?.[0] ?? '', /kind ConfigMap/);
    const deleted = await deny.review('validate', admissionReview({ operation: 'DELETE', oldObject: deployment(['nginx:latest']), kind: 'Deployment' }));
    assert.equal(deleted.response.allowed, true);
  });

  it('counts decisions per webhook in the metrics', async () => {
    const decisions = async (): Promise<readonly number[]> => {
      const text = await deny.metrics();
      return ['denied', 'allowed'].map((decision) => sample(text, 'tagpin_admission_requests_total', { webhook: 'validate', decision }) ?? 0);
    };
    const before = await decisions();
    await deny.review('validate', admissionReview({ object: mixed() }));
    await deny.review('validate', admissionReview({ object: deployment(['app:1.0']) }));
    await deny.review('validate', admissionReview({ object: deployment(['app:1.1']) }));
    assert.deepEqual(await decisions(), [(before[0] ?? 0) + 1, (before[1] ?? 0) + 2]);
  });
});
