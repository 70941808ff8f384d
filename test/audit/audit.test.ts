// Audit records: one JSON line with exactly the contract's fields, and auditAnnotations the API server keeps.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { auditAnnotations, createAuditLog, isValidAnnotationKey } from '../../src/audit/index.ts';
import type { AuditEvent } from '../../src/audit/index.ts';

const event: AuditEvent = {
  webhook: 'mutate',
  uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
  operation: 'CREATE',
  kind: 'Deployment',
  namespace: 'demo',
  name: 'web',
  user: 'alice',
  dryRun: true,
  decision: 'patched',
  durationMs: 12,
  images: [
    { path: '/spec/template/spec/containers/0/image', image: 'nginx:1.27', pinned: `nginx:1.27@sha256:${'d'.repeat(64)}`, verdict: 'pinned' },
    { path: '/spec/template/spec/containers/1/image', image: 'app@sha256:x', verdict: 'ok', reason: 'already has a digest' },
  ],
};

function capture(): { readonly lines: () => Array<Record<string, unknown>>; readonly logger: Logger } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return {
    logger: pino(stream),
    lines: () =>
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('createAuditLog', () => {
  it('writes one JSON line tagged logger=audit with every contract field', () => {
    const { logger, lines } = capture();
    createAuditLog(logger).record(event);
    const written = lines();
    assert.equal(written.length, 1);
    const line = written[0] ?? {};
    assert.equal(line['logger'], 'audit');
    for (const key of ['webhook', 'uid', 'operation', 'kind', 'namespace', 'name', 'user', 'dryRun', 'decision', 'durationMs', 'images'] as const) {
      assert.deepEqual(line[key], event[key], key);
    }
  });

  it('writes nothing beyond the contract, even when handed more', () => {
    const { logger, lines } = capture();
    const sneaky = { ...event, object: { secret: 'x' }, images: [{ ...event.images[0], password: 'hunter2' }] } as unknown as AuditEvent;
    createAuditLog(logger).record(sneaky);
    const text = JSON.stringify(lines());
    assert.doesNotMatch(text, /hunter2|secret/);
  });
});

describe('auditAnnotations', () => {
  it('gives the decision and the images under valid keys', () => {
    const annotations = auditAnnotations(event);
    assert.deepEqual(Object.keys(annotations).sort(), ['decision', 'images']);
    for (const key of Object.keys(annotations)) assert.ok(isValidAnnotationKey(key), key);
    assert.equal(annotations['decision'], 'patched');
    assert.deepEqual(JSON.parse(annotations['images'] ?? ''), [
      { path: '/spec/template/spec/containers/0/image', image: 'nginx:1.27', pinned: `nginx:1.27@sha256:${'d'.repeat(64)}`, verdict: 'pinned' },
      { path: '/spec/template/spec/containers/1/image', image: 'app@sha256:x', verdict: 'ok' },
    ]);
  });

  it('summarises the images when listing them would be too long', () => {
    const images = Array.from({ length: 500 }, (_, i) => ({ path: `/spec/containers/${String(i)}/image`, image: `registry.example.com/app-${String(i)}:v1`, verdict: 'pinned' as const }));
    const value = auditAnnotations({ ...event, images })['images'] ?? '';
    assert.ok(value.length < 200);
    assert.match(value, /^500 images; see the tagpin audit log for uid /);
  });
});

describe('isValidAnnotationKey', () => {
  it('follows the name part of a Kubernetes qualified name', () => {
    for (const key of ['decision', 'images', 'a', 'resolved-images', 'x.y_z-1']) assert.ok(isValidAnnotationKey(key), key);
    for (const key of ['', '-lead', 'trail-', 'has/slash', 'has space', 'x'.repeat(64)]) assert.ok(!isValidAnnotationKey(key), key);
  });
});
