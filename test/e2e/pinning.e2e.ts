// kubectl against the real API server with tagpin installed by its chart: what gets stored is pinned.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'yaml';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import type { LogLine } from '../support/serve.ts';
import { startCluster } from './support/cluster.ts';
import type { Cluster } from './support/cluster.ts';
import { kubectlFor } from './support/kubectl.ts';
import type { Json, Kubectl } from './support/kubectl.ts';
import { assertPinnedCopy, fixtureIn, imageFields, pushImages } from './support/objects.ts';
import type { PushedImages } from './support/objects.ts';
import { installTagpin } from './support/tagpin.ts';
import type { InstalledTagpin } from './support/tagpin.ts';

const KINDS = [
  ['pod', 'pod', 'web'],
  ['podtemplate', 'podtemplate', 'web-template'],
  ['replicationcontroller', 'replicationcontroller', 'legacy'],
  ['replicaset', 'replicaset', 'web-rs'],
  ['deployment', 'deployment', 'web'],
  ['statefulset', 'statefulset', 'db'],
  ['daemonset', 'daemonset', 'node-agent'],
  ['job', 'job', 'migrate'],
  ['cronjob', 'cronjob', 'nightly'],
] as const;

const NS = 'apps';

describe('kubectl with tagpin installed: every kind is stored pinned', () => {
  let cluster: Cluster;
  let registry: TestRegistry;
  let images: PushedImages;
  let kubectl: Kubectl;
  let tagpin: InstalledTagpin;

  before(async () => {
    cluster = await startCluster({ apiserverArgs: ['--feature-gates=ImageVolume=true'] });
    registry = await startRegistry('tls', { pki: cluster.pki });
    images = await pushImages(registry);
    kubectl = kubectlFor(cluster.adminKubeconfig);
    tagpin = await installTagpin(cluster, kubectl, registry);
    await kubectl.createNamespace(NS);
    // The fixtures name these ServiceAccounts; the ServiceAccount admission plugin wants them to exist.
    await kubectl.ok(['create', 'serviceaccount', 'web', '-n', NS]);
    await kubectl.ok(['create', 'serviceaccount', 'node-agent', '-n', NS]);
  });
  after(async () => {
    await tagpin?.uninstall();
    await registry?.stop();
    await cluster?.stop();
  });

  for (const [file, resource, name] of KINDS) {
    it(`kubectl apply of a ${resource} stores it pinned, nothing else changed`, async () => {
      const sent = fixtureIn(file, NS, images);
      const applied = await kubectl.apply([sent]);
      assert.equal(applied.status, 0, applied.stderr);
      const stored = await kubectl.get(resource, name, NS);
      assert.ok(stored !== undefined, `${resource}/${name} was not stored`);
      assertPinnedCopy(stored, sent, images.pinned, `${resource}/${name}`);
      // Every image of the fixture was pinned to the digest the registry reported for it.
      const byPath = (fields: ReadonlyArray<{ path: string; image: string }>): string[] => fields.map((f) => `${f.path} ${f.image}`).sort();
      assert.deepEqual(byPath(imageFields(stored)), byPath(imageFields(sent).map((f) => ({ path: f.path, image: images.pinned.get(f.image) ?? '' }))));
    });
  }

  it('pins the ReplicaSet and Pods the controllers create from a Deployment, without changing them again', async () => {
    const deployment = await kubectl.get('deployment', 'web', NS);
    assert.ok(deployment !== undefined);
    const template = (deployment['spec'] as Json)['template'] as Json;
    const replicaSets = await waitForList(kubectl, 'replicasets', NS, 'app=web', 1);
    assert.equal(replicaSets.length, 1);
    const replicaSet = replicaSets[0] as Json;
    assert.deepEqual(imageFields((replicaSet['spec'] as Json)['template']), imageFields(template));
    const pods = await waitForList(kubectl, 'pods', NS, 'app=web', replicasOf(deployment));
    for (const pod of pods) {
      const spec = imageFields(pod['spec']).map((f) => f.image);
      assert.deepEqual(spec, imageFields(template['spec']).map((f) => f.image));
    }
    // tagpin saw the controllers' creates and had nothing to pin: every image already had its digest.
    const byController = (l: LogLine): boolean =>
      l['webhook'] === 'mutate' && l['namespace'] === NS && String(l['user']).startsWith('system:serviceaccount:kube-system:');
    await tagpin.server.auditWhere((l) => byController(l) && l['kind'] === 'ReplicaSet');
    await tagpin.server.auditWhere((l) => byController(l) && l['kind'] === 'Pod', pods.length);
    const controllerAdmissions = tagpin.server.auditLines().filter(byController);
    assert.ok(controllerAdmissions.some((l) => l['kind'] === 'ReplicaSet'), 'the ReplicaSet went through tagpin');
    assert.ok(controllerAdmissions.some((l) => l['kind'] === 'Pod'), 'the Pods went through tagpin');
    for (const line of controllerAdmissions) {
      assert.equal(line['decision'], 'allowed', JSON.stringify(line));
      for (const image of line['images'] as Json[]) assert.equal(image['verdict'], 'ok', JSON.stringify(line));
    }
  });

  it('applying the same file again changes nothing, and kubectl diff shows no difference', async () => {
    const sent = fixtureIn('deployment', NS, images);
    const before = await kubectl.get('deployment', 'web', NS);
    // kubectl sends its three-way patch (the file's tag against the live digest); tagpin keeps the
    // stored digest on UPDATE, so the API server finds nothing to change and writes nothing.
    const again = await kubectl.apply([sent]);
    assert.equal(again.status, 0, again.stderr);
    const after = await kubectl.get('deployment', 'web', NS);
    assert.equal(meta(after, 'generation'), meta(before, 'generation'));
    // The deployment controller may write the status between the two reads (a new resourceVersion);
    // what the apply itself could change is the spec, the annotations and kubectl's managed fields.
    assert.deepEqual(after?.['spec'], before?.['spec']);
    assert.deepEqual(meta(after, 'annotations'), meta(before, 'annotations'));
    assert.deepEqual(fieldsManagedBy(after, 'kubectl'), fieldsManagedBy(before, 'kubectl'));
    assert.equal((await waitForList(kubectl, 'replicasets', NS, 'app=web', 1)).length, 1, 'no new ReplicaSet');
    const diff = await kubectl.run(['diff', '-f', '-'], JSON.stringify(sent));
    assert.equal(diff.status, 0, `kubectl diff found a difference:\n${diff.stdout}${diff.stderr}`);
  });

  it('kubectl set image pins the new tag', async () => {
    const busybox = `${registry.host}/demo/busybox:1.36`;
    await kubectl.ok(['set', 'image', 'deployment/web', `nginx=${busybox}`, '-n', NS]);
    const stored = await kubectl.get('deployment', 'web', NS);
    const nginx = containers(stored, 'spec', 'template').find((c) => c['name'] === 'nginx');
    assert.equal(nginx?.['image'], images.pinned.get(busybox));
  });

  it('a label change on a Job (immutable template) is accepted and keeps the pinned images', async () => {
    const before = await kubectl.get('job', 'migrate', NS);
    const changed = await kubectl.run(['label', 'job', 'migrate', 'team=data', '-n', NS]);
    assert.equal(changed.status, 0, changed.stderr);
    const after = await kubectl.get('job', 'migrate', NS);
    assert.equal((meta(after, 'labels') as Json)['team'], 'data');
    assert.deepEqual(imageFields(after?.['spec']), imageFields(before?.['spec']));
  });

  it('kubectl debug adds an ephemeral container that is pinned', async () => {
    const busybox = `${registry.host}/demo/busybox:1.36`;
    const debug = await kubectl.run(['debug', 'web', '-n', NS, `--image=${busybox}`, '--container=debugger', '--', 'sleep', '1']);
    assert.equal(debug.status, 0, debug.stderr);
    const pod = await kubectl.get('pod', 'web', NS);
    const ephemeral = ((pod?.['spec'] as Json)['ephemeralContainers'] ?? []) as Json[];
    assert.equal(ephemeral.find((c) => c['name'] === 'debugger')?.['image'], images.pinned.get(busybox));
  });

  it('kubectl apply --dry-run=server returns the pinned object, stores nothing, and the audit line says dryRun', async () => {
    const sent = fixtureIn('pod', NS, images);
    (sent['metadata'] as Json)['name'] = 'dry-run';
    const result = await kubectl.apply([sent], ['--dry-run=server', '-o', 'yaml']);
    assert.equal(result.status, 0, result.stderr);
    assertPinnedCopy(parse(result.stdout) as Json, sent, images.pinned, 'dry-run output');
    assert.equal(await kubectl.get('pod', 'dry-run', NS), undefined, 'a dry run stores nothing');
    const [line] = await tagpin.server.auditWhere((l) => l['webhook'] === 'mutate' && l['name'] === 'dry-run');
    assert.equal(line?.['dryRun'], true, JSON.stringify(line));
    assert.equal(line?.['decision'], 'patched');
  });

  it("records tagpin's decision in the API server's own audit log (auditAnnotations)", async () => {
    const events = auditEvents(cluster).filter((e) => e.verb === 'create' && e.objectRef?.resource === 'pods' && e.objectRef.name === 'web' && e.objectRef.namespace === NS);
    assert.equal(events.length, 1, 'one create of pod web');
    const annotations = events[0]?.annotations ?? {};
    assert.equal(annotations['mutate.tagpin.tagpin.svc/decision'], 'patched', JSON.stringify(annotations));
    const listed = JSON.parse(annotations['mutate.tagpin.tagpin.svc/images'] ?? '[]') as Json[];
    const expected = imageFields(fixtureIn('pod', NS, images)).map((f) => images.pinned.get(f.image));
    assert.deepEqual(listed.map((i) => i['pinned']).sort(), expected.sort());
    assert.equal(annotations['validate.tagpin.tagpin.svc/decision'], 'allowed', JSON.stringify(annotations));
  });

  describe('validation', () => {
    const latestPod = (name: string): Json => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: NS },
      spec: { containers: [{ name: 'app', image: `${registry.host}/demo/app:latest` }] },
    });

    before(async () => {
      await registry.push('demo/app', 'latest', 'oci-manifest');
      // Validation alone (mutation would pin :latest first, and a digest satisfies every rule).
      await tagpin.upgrade({ webhooks: { mutating: { enabled: false } } });
    });
    after(async () => {
      await tagpin.upgrade({ webhooks: { mutating: { enabled: true } }, config: { validate: { action: 'deny' } } });
    });

    it(":latest is refused and kubectl shows tagpin's message with the image and its path", async () => {
      const result = await kubectl.apply([latestPod('latest-denied')]);
      assert.notEqual(result.status, 0);
      assert.match(result.stderr, /admission webhook "validate\.tagpin\.tagpin\.svc" denied the request/);
      assert.match(result.stderr, /\/spec\/containers\/0\/image/);
      assert.ok(result.stderr.includes(`${registry.host}/demo/app:latest`), result.stderr);
      assert.match(result.stderr, /tag latest is mutable/);
      assert.equal(await kubectl.get('pod', 'latest-denied', NS), undefined);
    });

    it("in warn mode kubectl prints tagpin's Warning: lines and the object is stored", async () => {
      await tagpin.upgrade({ config: { validate: { action: 'warn' } } });
      const result = await kubectl.apply([latestPod('latest-warned')]);
      assert.equal(result.status, 0, result.stderr);
      const warnings = result.stderr.split('\n').filter((l) => l.startsWith('Warning:'));
      assert.ok(warnings.some((w) => w.includes('/spec/containers/0/image') && w.includes('tag latest is mutable')), result.stderr);
      assert.ok((await kubectl.get('pod', 'latest-warned', NS)) !== undefined);
    });
  });
});

function meta(object: Json | undefined, key: string): unknown {
  return (object?.['metadata'] as Json | undefined)?.[key];
}

/** The managedFields entries of managers whose name starts with `prefix` (time included: a write updates it). */
function fieldsManagedBy(object: Json | undefined, prefix: string): readonly Json[] {
  return ((meta(object, 'managedFields') ?? []) as Json[]).filter((entry) => String(entry['manager']).startsWith(prefix));
}

function replicasOf(deployment: Json): number {
  return ((deployment['spec'] as Json)['replicas'] as number | undefined) ?? 1;
}

function containers(object: Json | undefined, ...path: string[]): Json[] {
  let node: unknown = object;
  for (const key of path) node = (node as Json | undefined)?.[key];
  return (((node as Json | undefined)?.['spec'] as Json | undefined)?.['containers'] ?? []) as Json[];
}

/** Lists `resource` by label until at least `count` exist (the controllers work asynchronously). */
async function waitForList(kubectl: Kubectl, resource: string, namespace: string, selector: string, count: number): Promise<Json[]> {
  let items: Json[] = [];
  for (let attempt = 0; attempt < 300; attempt++) {
    items = (JSON.parse(await kubectl.ok(['get', resource, '-n', namespace, '-l', selector, '-o', 'json'])) as { items: Json[] }).items;
    if (items.length >= count) return items;
    await sleep(100);
  }
  throw new Error(`${String(items.length)} ${resource} with ${selector} in ${namespace}, expected ${String(count)}`);
}

interface AuditEvent {
  readonly verb: string;
  readonly objectRef?: { readonly resource?: string; readonly name?: string; readonly namespace?: string };
  readonly annotations?: Readonly<Record<string, string>>;
}

function auditEvents(cluster: Cluster): AuditEvent[] {
  return readLines(cluster.auditLogFile).map((line) => JSON.parse(line) as AuditEvent);
}

function readLines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
}
