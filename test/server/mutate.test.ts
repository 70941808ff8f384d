// /mutate end to end: a real `tagpin serve` over TLS pins real objects against the real registry.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { apply_patch } from 'jsonpatch';
import { createPki } from '../support/pki.ts';
import { requireRegistryBinary, startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { deployment, job, pod } from '../support/objects.ts';
import { sample } from '../support/prometheus.ts';
import { admissionReview, patchOf, pushFixtureImages, replaceStrings } from '../support/reviews.ts';
import type { LocalImages } from '../support/reviews.ts';
import { startServe } from '../support/serve.ts';
import type { LogLine, TagpinServer } from '../support/serve.ts';

const KINDS = [
  ['pod', 'Pod'],
  ['podtemplate', 'PodTemplate'],
  ['replicationcontroller', 'ReplicationController'],
  ['replicaset', 'ReplicaSet'],
  ['deployment', 'Deployment'],
  ['statefulset', 'StatefulSet'],
  ['daemonset', 'DaemonSet'],
  ['job', 'Job'],
  ['cronjob', 'CronJob'],
] as const;

describe('tagpin serve /mutate', () => {
  let registry: TestRegistry;
  let images: LocalImages;
  let server: TagpinServer;
  /** Each local image → the same image with `@digest` appended, as tag-digest output writes it. */
  let pinnedMap: Map<string, string>;

  before(async () => {
    requireRegistryBinary();
    const pki = await createPki();
    registry = await startRegistry('tls', { pki });
    images = await pushFixtureImages(registry);
    pinnedMap = new Map([...images.digests].map(([image, digest]) => [image, `${image}@${digest}`]));
    const serving = await pki.issue('tagpin-webhook', ['tagpin.tagpin.svc']);
    server = await startServe({
      ca: pki.caPem,
      config: {
        registries: { caFile: pki.caFile, allow: ['127.0.0.1'] },
        exclude: { namespaces: ['kube-system', 'sandbox'], images: [`${registry.host}/demo/postgres:*`] },
        server: { tlsCert: serving.certFile, tlsKey: serving.keyFile },
      },
    });
  });
  after(async () => {
    await server?.stop();
    await registry?.stop();
  });

  for (const [file, kind] of KINDS) {
    it(`pins every image of a ${kind} and changes nothing else`, async () => {
      const object = images.object(file);
      const answer = await server.review('mutate', admissionReview({ object }));
      assert.equal(answer.response.allowed, true);
      assert.equal(answer.response.patchType, 'JSONPatch');
      const patch = patchOf(answer);
      assert.ok(patch.length > 0);
      for (const op of patch) {
        assert.equal(op.op, 'replace');
        assert.match(op.path, /\/(image|image\/reference)$/);
      }
      const patched = apply_patch(object, patch);
      // Every image now carries the digest the registry reported; every other byte is as sent.
      const expected = replaceStrings(object, pinnedMap);
      if (kind === 'StatefulSet') {
        // postgres is excluded by glob in this server's config, so it stays as written.
        const postgres = images.moved.get('postgres:17') ?? '';
        const unpinned = new Map(pinnedMap);
        unpinned.set(postgres, postgres);
        assert.deepEqual(patched, replaceStrings(object, unpinned));
      } else {
        assert.deepEqual(patched, expected);
      }
    });
  }

  it('pins a multi-arch image to the index digest the registry reports for the tag', async () => {
    const nginx = images.moved.get('nginx:1.27') ?? '';
    const answer = await server.review('mutate', admissionReview({ object: pod([nginx]) }));
    assert.deepEqual(patchOf(answer), [
      { op: 'replace', path: '/spec/containers/0/image', value: `${nginx}@${await registry.digest('demo/nginx', '1.27')}` },
    ]);
  });

  it('answers its own output with no patch (reinvocation is idempotent)', async () => {
    const object = images.object('deployment');
    const first = await server.review('mutate', admissionReview({ object }));
    const pinned = apply_patch(object, patchOf(first));
    const second = await server.review('mutate', admissionReview({ object: pinned }));
    assert.equal(second.response.allowed, true);
    assert.equal(second.response.patch, undefined);
    assert.equal(second.response.patchType, undefined);
  });

  it('answers an admission.k8s.io/v1beta1 review in kind', async () => {
    const review = admissionReview({ apiVersion: 'admission.k8s.io/v1beta1', object: images.object('pod') });
    const answer = await server.review('mutate', review);
    assert.equal(answer.apiVersion, 'admission.k8s.io/v1beta1');
    assert.equal(answer.kind, 'AdmissionReview');
    assert.equal(answer.response.uid, (review['request'] as { uid: string }).uid);
    assert.ok(patchOf(answer).length > 0);
  });

  it('leaves images with a digest, excluded images and excluded namespaces untouched, asking the registry nothing', async () => {
    const app = images.moved.get('127.0.0.1:5000/demo/app:v1') ?? '';
    const postgres = images.moved.get('postgres:17') ?? '';
    const digested = pinnedMap.get(app) ?? '';
    const asked = registry.manifestRequests().length;
    const answer = await server.review(
      'mutate',
      admissionReview({ object: pod([digested, postgres]) }),
    );
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.patch, undefined);
    const audit = await server.auditFor(answer.response.uid);
    assert.deepEqual(
      (audit['images'] as LogLine[]).map((i) => i['verdict']),
      ['ok', 'excluded'],
    );

    const sandbox = await server.review('mutate', admissionReview({ object: pod([app]), namespace: 'sandbox' }));
    assert.equal(sandbox.response.allowed, true);
    assert.equal(sandbox.response.patch, undefined);
    const sandboxAudit = await server.auditFor(sandbox.response.uid);
    assert.equal(sandboxAudit['decision'], 'allowed');
    assert.deepEqual(sandboxAudit['images'], [
      { path: '/spec/containers/0/image', image: app, verdict: 'excluded', reason: 'namespace sandbox is excluded' },
    ]);    assert.equal(registry.manifestRequests().length, asked);
  });

  it('keeps the old digest on UPDATE when the tag is unchanged, without asking the registry', async () => {
    const first = await registry.push('demo/moving', 'v1', 'oci-manifest');
    // The tag moves on: a lookup now would give another digest.
    const moved = await registry.push('demo/moving', 'v1', 'oci-manifest');
    assert.notEqual(first, moved);
    const image = `${registry.host}/demo/moving:v1`;
    const before = registry.manifestRequests().filter((r) => r.path.includes('/demo/moving/')).length;
    const oldObject = job([`${image}@${first}`]);
    const answer = await server.review('mutate', admissionReview({ operation: 'UPDATE', object: job([image]), oldObject }));
    assert.equal(answer.response.allowed, true);
    assert.deepEqual(patchOf(answer), [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: `${image}@${first}` }]);
    assert.equal(registry.manifestRequests().filter((r) => r.path.includes('/demo/moving/')).length, before);
    const audit = await server.auditFor(answer.response.uid);
    assert.equal((audit['images'] as LogLine[])[0]?.['verdict'], 'kept');
  });

  it('resolves on UPDATE when the tag changed', async () => {
    const v1 = await registry.push('demo/retagged', 'v1', 'oci-manifest');
    const v2 = await registry.push('demo/retagged', 'v2', 'oci-manifest');
    const base = `${registry.host}/demo/retagged`;
    const answer = await server.review(
      'mutate',
      admissionReview({ operation: 'UPDATE', object: deployment([`${base}:v2`]), oldObject: deployment([`${base}:v1@${v1}`]) }),
    );
    assert.deepEqual(patchOf(answer), [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: `${base}:v2@${v2}` }]);
  });

  it('leaves an image that an UPDATE does not change as it is (Job templates are immutable)', async () => {
    const app = images.moved.get('127.0.0.1:5000/demo/app:v1') ?? '';
    const answer = await server.review('mutate', admissionReview({ operation: 'UPDATE', object: job([app]), oldObject: job([app]) }));
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.patch, undefined);
    const audit = await server.auditFor(answer.response.uid);
    assert.deepEqual(audit['images'], [
      { path: '/spec/template/spec/containers/0/image', image: app, verdict: 'unchanged', reason: 'image not changed by this update' },
    ]);
  });

  it('pins only newly added ephemeral containers on the pods/ephemeralcontainers subresource', async () => {
    const busybox = images.moved.get('busybox:1.36') ?? '';
    const app = images.moved.get('127.0.0.1:5000/demo/app:v1') ?? '';
    const debugger1 = { name: 'debugger-1', image: busybox };
    const oldObject = pod([app], { spec: { ephemeralContainers: [debugger1] } });
    const object = pod([app], { spec: { ephemeralContainers: [debugger1, { name: 'debugger-2', image: busybox }] } });
    const answer = await server.review(
      'mutate',
      admissionReview({ operation: 'UPDATE', subResource: 'ephemeralcontainers', kind: 'Pod', object, oldObject }),
    );
    assert.deepEqual(patchOf(answer), [{ op: 'replace', path: '/spec/ephemeralContainers/1/image', value: pinnedMap.get(busybox) }]);
  });

  it('serves dryRun requests normally and marks them in the audit record', async () => {
    const answer = await server.review('mutate', admissionReview({ object: images.object('cronjob'), dryRun: true }));
    assert.ok(patchOf(answer).length > 0);
    const audit = await server.auditFor(answer.response.uid);
    assert.equal(audit['dryRun'], true);
    assert.equal(audit['decision'], 'patched');
  });

  it('denies invalid references and non-string images, naming each path, with HTTP 200', async () => {
    const app = images.moved.get('127.0.0.1:5000/demo/app:v1') ?? '';
    const object = pod([app, 'Nginx:::1', 42]);
    const answer = await server.review('mutate', admissionReview({ object }));
    assert.equal(answer.response.allowed, false);
    assert.equal(answer.response.patch, undefined);
    assert.equal(answer.response.status?.code, 403);
    assert.equal(answer.response.status?.reason, 'Forbidden');
    const message = answer.response.status?.message ?? '';
    assert.match(message, /\/spec\/containers\/1\/image "Nginx:::1": /);
    assert.match(message, /\/spec\/containers\/2\/image "42": image is not a string/);
    assert.doesNotMatch(message, /containers\/0/);
  });

  it('writes one audit line per decision with every contract field', async () => {
    const object = images.object('pod');
    const review = admissionReview({ object, user: 'alice@example.com' });
    const answer = await server.review('mutate', review);
    const audit = await server.auditFor(answer.response.uid);
    assert.equal(server.auditLines().filter((l) => l['uid'] === answer.response.uid).length, 1);
    assert.equal(audit['logger'], 'audit');
    assert.equal(audit['webhook'], 'mutate');
    assert.equal(audit['uid'], answer.response.uid);
    assert.equal(audit['operation'], 'CREATE');
    assert.equal(audit['kind'], 'Pod');
    assert.equal(audit['namespace'], 'demo');
    assert.equal(audit['name'], 'web');
    assert.equal(audit['user'], 'alice@example.com');
    assert.equal(audit['dryRun'], false);
    assert.equal(audit['decision'], 'patched');
    assert.equal(typeof audit['durationMs'], 'number');
    assert.ok((audit['durationMs'] as number) >= 0);
    const nginx = images.moved.get('nginx:1.27') ?? '';
    assert.deepEqual((audit['images'] as LogLine[]).find((i) => i['path'] === '/spec/containers/0/image'), {
      path: '/spec/containers/0/image',
      image: nginx,
      pinned: pinnedMap.get(nginx),
      verdict: 'pinned',
    });
    assert.deepEqual(
      (audit['images'] as LogLine[]).map((i) => i['path']).sort(),
      ['/spec/containers/0/image', '/spec/containers/1/image', '/spec/initContainers/0/image', '/spec/volumes/1/image/reference'],
    );
    // The request object and credentials never reach the log.
    assert.equal(audit['object'], undefined);
    assert.doesNotMatch(JSON.stringify(server.lines()), /system:masters/);
  });

  it('adds the decision to auditAnnotations under keys the API server accepts', async () => {
    const answer = await server.review('mutate', admissionReview({ object: images.object('replicaset') }));
    const annotations = answer.response.auditAnnotations ?? {};
    assert.equal(annotations['decision'], 'patched');
    for (const key of Object.keys(annotations)) {
      assert.ok(key.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(key), key);
    }
    const listed = JSON.parse(annotations['images'] ?? '[]') as Array<{ verdict: string }>;
    assert.deepEqual(listed.map((i) => i.verdict), ['pinned', 'pinned']);
  });

  it('exposes admission, registry and cache metrics', async () => {
    // A lookup (a miss, a HEAD to the registry) and the same again (a hit): whatever ran before, the counters move.
    const web = `${registry.host}/demo/metrics:v1`;
    await registry.push('demo/metrics', 'v1', 'oci-manifest');
    const counters = async (): Promise<readonly number[]> => {
      const text = await server.metrics();
      return [
        sample(text, 'tagpin_admission_requests_total', { webhook: 'mutate', decision: 'patched' }) ?? 0,
        sample(text, 'tagpin_registry_requests_total', { registry: registry.host, method: 'HEAD', status: '200' }) ?? 0,
        sample(text, 'tagpin_resolve_cache_total', { result: 'miss' }) ?? 0,
        sample(text, 'tagpin_resolve_cache_total', { result: 'hit' }) ?? 0,
      ];
    };
    const before = await counters();
    for (let i = 0; i < 2; i++) await server.review('mutate', admissionReview({ object: pod([web]) }));
    const [patched, heads, misses, hits] = (await counters()).map((n, i) => n - (before[i] ?? 0));
    assert.deepEqual({ patched, heads, misses, hits }, { patched: 2, heads: 1, misses: 1, hits: 1 });
    const text = await server.metrics();
    assert.match(text, /^tagpin_admission_requests_total\{webhook="mutate",decision="patched"\} [1-9]\d*$/m);
    assert.match(text, /^tagpin_admission_duration_seconds_count\{webhook="mutate"\} [1-9]\d*$/m);
    const host = registry.host.replaceAll('.', '\\.');
    assert.match(text, new RegExp(`^tagpin_registry_requests_total\\{registry="${host}",method="HEAD",status="200"\\} [1-9]\\d*$`, 'm'));
    assert.match(text, /^tagpin_resolve_cache_total\{result="hit"\} [1-9]\d*$/m);
    assert.match(text, /^tagpin_resolve_cache_total\{result="miss"\} [1-9]\d*$/m);
  });
});
