// Workload: image fields of every kind, with JSON Pointers, on good and odd shapes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SUPPORTED_KINDS } from '../../src/config/index.ts';
import { escapePointerToken, getAtPointer, listImages, podSpecOf, podSpecPointer, replaceImage } from '../../src/workload/index.ts';

function pod(spec: unknown): unknown {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec };
}

describe('podSpecPointer', () => {
  it('knows where each supported kind keeps its pod spec', () => {
    assert.equal(podSpecPointer('Pod'), '/spec');
    assert.equal(podSpecPointer('PodTemplate'), '/template/spec');
    assert.equal(podSpecPointer('CronJob'), '/spec/jobTemplate/spec/template/spec');
    for (const kind of ['ReplicationController', 'ReplicaSet', 'Deployment', 'StatefulSet', 'DaemonSet', 'Job']) {
      assert.equal(podSpecPointer(kind), '/spec/template/spec', kind);
    }
  });

  it('has no pod spec for other kinds, including inherited property names', () => {
    assert.equal(podSpecPointer('Service'), undefined);
    assert.equal(podSpecPointer('deployment'), undefined);
    assert.equal(podSpecPointer('toString'), undefined);
    assert.equal(podSpecPointer('__proto__'), undefined);
  });
});

describe('listImages', () => {
  it('lists containers, initContainers, ephemeralContainers and image volumes with names', () => {
    const fields = listImages(
      'Pod',
      pod({
        containers: [{ name: 'web', image: 'nginx:1.27' }],
        initContainers: [{ name: 'init', image: 'busybox:1.36' }],
        ephemeralContainers: [{ name: 'debug', image: 'busybox:latest' }],
        volumes: [{ name: 'data', emptyDir: {} }, { name: 'models', image: { reference: 'reg.local/models:v1' } }],
      }),
    );
    assert.deepEqual(fields, [
      { path: '/spec/containers/0/image', value: 'nginx:1.27', slot: 'containers', name: 'web' },
      { path: '/spec/initContainers/0/image', value: 'busybox:1.36', slot: 'initContainers', name: 'init' },
      { path: '/spec/ephemeralContainers/0/image', value: 'busybox:latest', slot: 'ephemeralContainers', name: 'debug' },
      { path: '/spec/volumes/1/image/reference', value: 'reg.local/models:v1', slot: 'volumes', name: 'models' },
    ]);
  });

  it('walks the CronJob job template', () => {
    const cronJob = { spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'c', image: 'app:v1' }] } } } } } };
    assert.deepEqual(
      listImages('CronJob', cronJob).map((f) => f.path),
      ['/spec/jobTemplate/spec/template/spec/containers/0/image'],
    );
  });

  it('skips containers and image volumes that leave the image unset, as templates may', () => {
    const fields = listImages(
      'Pod',
      pod({
        containers: [{ name: 'unset' }, { name: 'set', image: 'nginx' }],
        volumes: [{ name: 'img', image: {} }],
      }),
    );
    assert.deepEqual(
      fields.map((f) => f.path),
      ['/spec/containers/1/image'],
    );
  });

  it('lists present values that are not usable strings so policy can call them invalid', () => {
    const fields = listImages(
      'Pod',
      pod({ containers: [{ name: 'a', image: 42 }, { name: 'b', image: '' }, { name: 'c', image: null }, { name: 'd', image: ['x'] }] }),
    );
    assert.deepEqual(
      fields.map((f) => f.value),
      [42, '', null, ['x']],
    );
  });

  it('omits the name when a container has none or a non-string one', () => {
    const [first, second] = listImages('Pod', pod({ containers: [{ image: 'a' }, { name: 7, image: 'b' }] }));
    assert.ok(first && second);
    assert.equal('name' in first, false);
    assert.equal('name' in second, false);
  });

  it('lists nothing for unknown kinds or objects without a pod spec', () => {
    assert.deepEqual(listImages('Service', pod({ containers: [{ image: 'nginx' }] })), []);
    assert.deepEqual(listImages('Deployment', { spec: {} }), []);
    assert.deepEqual(listImages('Pod', {}), []);
  });

  it('never throws on odd shapes', () => {
    const odd: unknown[] = [
      null,
      undefined,
      42,
      'text',
      [],
      { spec: null },
      { spec: [] },
      { spec: 'x' },
      { spec: { containers: null } },
      { spec: { containers: {} } },
      { spec: { containers: 'nginx' } },
      { spec: { containers: [null, 1, 'nginx', [], { image: 'ok' }] } },
      { spec: { volumes: [null, { image: null }, { image: 'nginx' }, { image: [] }] } },
      { spec: { template: { spec: { containers: [{ image: 'x' }] } } } },
    ];
    for (const object of odd) {
      for (const kind of SUPPORTED_KINDS) assert.doesNotThrow(() => listImages(kind, object));
    }
    assert.deepEqual(
      listImages('Pod', odd[11]).map((f) => f.path),
      ['/spec/containers/4/image'],
    );
  });

  it('returns pointers that read back the listed value, for any JSON', () => {
    const container = fc.record({ name: fc.string(), image: fc.oneof(fc.string(), fc.jsonValue()) }, { requiredKeys: [] });
    const spec = fc.record(
      {
        containers: fc.oneof(fc.array(container, { maxLength: 3 }), fc.jsonValue()),
        initContainers: fc.array(container, { maxLength: 2 }),
        volumes: fc.array(fc.record({ name: fc.string(), image: fc.record({ reference: fc.jsonValue() }) }), { maxLength: 2 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.constantFrom(...SUPPORTED_KINDS), fc.oneof(spec, fc.jsonValue()), (kind, podSpec) => {
        const object: Record<string, unknown> = {};
        const pointer = podSpecPointer(kind) ?? '';
        // Place the generated pod spec at the kind's pointer.
        let at = object;
        const keys = pointer.slice(1).split('/');
        keys.slice(0, -1).forEach((key) => {
          const next: Record<string, unknown> = {};
          at[key] = next;
          at = next;
        });
        at[keys.at(-1) ?? 'spec'] = podSpec;
        for (const field of listImages(kind, object)) assert.deepEqual(getAtPointer(object, field.path), field.value);
      }),
      { numRuns: 200 },
    );
  });
});

describe('getAtPointer', () => {
  const doc = { a: { 'b/c': [10, { 'd~e': 'deep' }] }, '': 'empty key', n: null };

  it('follows RFC 6901 pointers, unescaping ~1 and ~0', () => {
    assert.equal(getAtPointer(doc, ''), doc);
    assert.equal(getAtPointer(doc, '/a/b~1c/0'), 10);
    assert.equal(getAtPointer(doc, '/a/b~1c/1/d~0e'), 'deep');
    assert.equal(getAtPointer(doc, '/'), 'empty key');
    assert.equal(getAtPointer(doc, '/n'), null);
  });

  it('yields undefined for paths that do not exist or are malformed', () => {
    assert.equal(getAtPointer(doc, 'a'), undefined);
    assert.equal(getAtPointer(doc, '/missing/x'), undefined);
    assert.equal(getAtPointer(doc, '/a/b~1c/01'), undefined, 'leading zero index');
    assert.equal(getAtPointer(doc, '/a/b~1c/-'), undefined);
    assert.equal(getAtPointer(doc, '/a/b~1c/5'), undefined);
    assert.equal(getAtPointer(doc, '/n/x'), undefined);
    assert.equal(getAtPointer('text', '/length'), undefined);
  });

  it('does not follow inherited properties', () => {
    assert.equal(getAtPointer({}, '/constructor'), undefined);
    assert.equal(getAtPointer({}, '/__proto__'), undefined);
    assert.equal(getAtPointer([], '/length'), undefined);
  });

  it('round-trips tokens escaped with escapePointerToken', () => {
    const key = 'a/b~c~1';
    assert.equal(escapePointerToken(key), 'a~1b~0c~01');
    assert.equal(getAtPointer({ [key]: 1 }, `/${escapePointerToken(key)}`), 1);
  });
});

describe('podSpecOf', () => {
  it('reads the service account and pull secrets of the pod spec', () => {
    const deployment = {
      spec: { template: { spec: { serviceAccountName: 'builder', imagePullSecrets: [{ name: 'a' }, { name: 'b' }, { name: 'a' }] } } },
    };
    assert.deepEqual(podSpecOf('Deployment', deployment), { serviceAccountName: 'builder', imagePullSecrets: ['a', 'b'] });
  });

  it('falls back to the deprecated serviceAccount field', () => {
    assert.deepEqual(podSpecOf('Pod', pod({ serviceAccount: 'old' })), { serviceAccountName: 'old', imagePullSecrets: [] });
  });

  it('is defensive against bad shapes and unknown kinds', () => {
    const empty = { serviceAccountName: undefined, imagePullSecrets: [] };
    assert.deepEqual(podSpecOf('Service', pod({ serviceAccountName: 'x' })), empty);
    assert.deepEqual(podSpecOf('Pod', null), empty);
    assert.deepEqual(podSpecOf('Pod', pod('x')), empty);
    assert.deepEqual(podSpecOf('Pod', pod({ serviceAccountName: 5, imagePullSecrets: 'regcred' })), empty);
    assert.deepEqual(podSpecOf('Pod', pod({ serviceAccountName: '', imagePullSecrets: [null, 'x', { name: 3 }, { name: '' }, { name: 'ok' }] })), {
      serviceAccountName: undefined,
      imagePullSecrets: ['ok'],
    });
  });
});

describe('replaceImage', () => {
  it('builds an RFC 6902 replace operation', () => {
    assert.deepEqual(replaceImage('/spec/containers/0/image', 'nginx:1.27@sha256:abc'), {
      op: 'replace',
      path: '/spec/containers/0/image',
      value: 'nginx:1.27@sha256:abc',
    });
  });
});
