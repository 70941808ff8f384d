// `tagpin audit` against the real API server: what already runs, whether its digests still hold.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../support/cli.ts';
import { startRegistry, tagpinUserAgent } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { startCluster } from './support/cluster.ts';
import type { Cluster } from './support/cluster.ts';
import { kubectlFor } from './support/kubectl.ts';
import type { Json, Kubectl } from './support/kubectl.ts';
import { containerImages, pod } from './support/objects.ts';
import { installTagpin } from './support/tagpin.ts';
import type { InstalledTagpin } from './support/tagpin.ts';
import type { TagpinServer } from '../support/serve.ts';

const NS = 'apps';
/** More objects than one list page holds (LIST_PAGE_SIZE, 250). */
const MANY = 300;

/** One record of `tagpin audit -o json`. */
interface Record {
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
  readonly path: string;
  readonly image: string | null;
  readonly state: string;
  readonly digest: string | null;
  readonly tagDigest: string | null;
  readonly reason: string | null;
  readonly excluded: string | null;
}

function deployment(name: string, namespace: string, image: string): Json {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: { replicas: 2, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image }] } } },
  };
}

describe('tagpin audit on a real cluster', () => {
  let cluster: Cluster;
  let registry: TestRegistry;
  let privateRegistry: TestRegistry;
  let kubectl: Kubectl;
  let tagpin: InstalledTagpin;
  /** Digests the registries reported when the content was pushed. */
  const pushed: { [name: string]: string } = {};

  const audit = (args: readonly string[], kubeconfig = cluster.adminKubeconfig) =>
    runCli(['audit', '--kubeconfig', kubeconfig, '--ca-file', cluster.pki.caFile, ...args]);
  const records = async (args: readonly string[]): Promise<{ readonly code: number | null; readonly records: readonly Record[]; readonly stderr: string }> => {
    const result = await audit([...args, '-o', 'json']);
    return { code: result.code, records: JSON.parse(result.stdout) as Record[], stderr: result.stderr };
  };
  const find = (all: readonly Record[], namespace: string, kind: string, name: string): Record => {
    const found = all.filter((r) => r.namespace === namespace && r.kind === kind && r.name === name);
    assert.equal(found.length, 1, `one image of ${namespace} ${kind}/${name} in ${JSON.stringify(all.map((r) => `${r.namespace}/${r.kind}/${r.name}`))}`);
    return found[0] as Record;
  };

  before(async () => {
    cluster = await startCluster();
    registry = await startRegistry('tls', { pki: cluster.pki });
    privateRegistry = await startRegistry('basic', { pki: cluster.pki });
    kubectl = kubectlFor(cluster.adminKubeconfig);
    pushed['web'] = await registry.push('demo/web', 'v1', 'oci-index');
    pushed['api'] = await registry.push('demo/api', 'v1', 'oci-index');
    pushed['gone'] = await registry.push('demo/gone', 'v1', 'oci-manifest');
    pushed['private'] = await privateRegistry.push('private/app', 'v1', 'oci-manifest');
    await kubectl.createNamespace(NS);
    await kubectl.createNamespace('team-a');
    await kubectl.createNamespace('team-b');
    await kubectl.ok([
      'create', 'secret', 'docker-registry', 'regcred', '-n', 'team-a',
      `--docker-server=${privateRegistry.host}`, `--docker-username=${privateRegistry.username ?? ''}`, `--docker-password=${privateRegistry.password ?? ''}`,
    ]);

    // Before tagpin: stored as written.
    const privateImage = `${privateRegistry.host}/private/app:v1@${pushed['private']}`;
    const before = await kubectl.apply([
      deployment('web', NS, `${registry.host}/demo/web:v1`),
      pod('latest', NS, `${registry.host}/demo/web:latest`),
      pod('by-digest', NS, `${registry.host}/demo/web@${pushed['web']}`),
      pod('private', 'team-a', privateImage, { imagePullSecrets: [{ name: 'regcred' }] }),
      pod('private', 'team-b', privateImage),
      pod('system', 'kube-system', `${registry.host}/demo/web:v1`),
    ]);
    assert.equal(before.status, 0, before.stderr);

    // With tagpin: pinned at admission; then the tag moves and a digest is deleted in the registry.
    tagpin = await installTagpin(cluster, kubectl, registry);
    const admitted = await kubectl.apply([deployment('api', NS, `${registry.host}/demo/api:v1`), pod('gone', NS, `${registry.host}/demo/gone:v1`)]);
    assert.equal(admitted.status, 0, admitted.stderr);
    assert.deepEqual(containerImages(await kubectl.get('pod', 'gone', NS)), [`${registry.host}/demo/gone:v1@${pushed['gone'] ?? ''}`]);
    pushed['api-moved'] = await registry.push('demo/api', 'v1', 'oci-index');
    await registry.deleteManifest('demo/gone', pushed['gone'] ?? '');
    // The ReplicaSets and Pods the controllers make are what the audit must fold into their Deployments.
    await waitForPods(kubectl, NS, 'app=web', 2);
    await waitForPods(kubectl, NS, 'app=api', 2);
  });
  after(async () => {
    await tagpin?.uninstall();
    await privateRegistry?.stop();
    await registry?.stop();
    await cluster?.stop();
  });

  it('gives every image of every namespace its state, and exits 1', async () => {
    const { code, records: all, stderr } = await records(['-A']);
    assert.equal(code, 1, stderr);
    const web = find(all, NS, 'Deployment', 'web');
    assert.equal(web.state, 'unpinned', 'created before tagpin was installed');
    assert.equal(web.path, '/spec/template/spec/containers/0/image');
    assert.equal(find(all, NS, 'Pod', 'latest').state, 'violation');
    assert.equal(find(all, NS, 'Pod', 'latest').reason, 'tag latest is mutable');
    assert.equal(find(all, NS, 'Pod', 'by-digest').state, 'pinned');

    const api = find(all, NS, 'Deployment', 'api');
    assert.equal(api.state, 'drifted');
    assert.equal(api.digest, pushed['api'], 'the digest pinned at admission');
    assert.equal(api.tagDigest, await registry.digest('demo/api', 'v1'), 'the digest the tag names now');
    assert.equal(api.tagDigest, pushed['api-moved']);

    const gone = find(all, NS, 'Pod', 'gone');
    assert.equal(gone.state, 'missing');
    assert.match(gone.reason ?? '', new RegExp(`${pushed['gone'] ?? ''} is no longer in ${registry.host}/demo/gone`));

    assert.equal(find(all, 'team-a', 'Pod', 'private').state, 'pinned', 'read with the pod\'s imagePullSecret');
    const denied = find(all, 'team-b', 'Pod', 'private');
    assert.equal(denied.state, 'failed', 'no pull secret in team-b');
    assert.match(denied.reason ?? '', /unauthorized|401/);
    assert.match(stderr, /1 image could not be checked/);

    const system = find(all, 'kube-system', 'Pod', 'system');
    assert.equal(system.state, 'unpinned');
    assert.equal(system.excluded, 'namespace kube-system is excluded');
  });

  it('reports each Deployment once, not its ReplicaSets and Pods', async () => {
    const { records: all } = await records(['-n', NS]);
    const workloads = [...new Set(all.map((r) => `${r.kind}/${r.name}`))].sort();
    assert.deepEqual(workloads, ['Deployment/api', 'Deployment/web', 'Pod/by-digest', 'Pod/gone', 'Pod/latest']);
    assert.ok(all.every((r) => r.namespace === NS));
  });

  it('asks the registry once per distinct tag, and per digest that needs asking', async () => {
    const before = registry.manifestRequests({ userAgent: tagpinUserAgent }).length;
    await records(['-n', NS]);
    const asked = registry.manifestRequests({ userAgent: tagpinUserAgent }).slice(before).map((r) => `${r.method} ${r.path} ${String(r.status)}`);
    assert.deepEqual(asked.sort(), [
      // Drifted: the tag, then the pinned digest, which still exists.
      `HEAD /v2/demo/api/manifests/${pushed['api'] ?? ''} 200`,
      'HEAD /v2/demo/api/manifests/v1 200',
      // Deleted: the tag went with its manifest, and so did the digest.
      `HEAD /v2/demo/gone/manifests/${pushed['gone'] ?? ''} 404`,
      'HEAD /v2/demo/gone/manifests/v1 404',
      // A digest without a tag.
      `HEAD /v2/demo/web/manifests/${pushed['web'] ?? ''} 200`,
    ].sort());
  });

  it('prints one line per image and a summary; a namespace with nothing to fix exits 0', async () => {
    const result = await audit(['-n', 'team-a']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split('\n'), [
      `team-a Pod/private /spec/containers/0/image ${privateRegistry.host}/private/app:v1@${pushed['private'] ?? ''} pinned`,
      '1 image in 1 workload: 1 pinned, 0 drifted, 0 unpinned, 0 violation, 0 missing, 0 failed',
    ]);
  });

  it(`pages through ${String(MANY)} objects of a kind, with the same few registry requests as for one`, async () => {
    await kubectl.createNamespace('many');
    const templates = Array.from({ length: MANY }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'PodTemplate',
      metadata: { name: `t-${String(i)}`, namespace: 'many' },
      template: { spec: { containers: [{ name: 'app', image: i % 2 === 0 ? `${registry.host}/demo/api:v1@${pushed['api'] ?? ''}` : `${registry.host}/demo/web@${pushed['web'] ?? ''}` }] } },
    }));
    await kubectl.ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: templates }));
    const before = registry.manifestRequests({ userAgent: tagpinUserAgent }).length;
    const { code, records: all } = await records(['-n', 'many']);
    assert.equal(code, 1, 'half of them drifted');
    assert.equal(all.length, MANY, 'more than one page of 250');
    assert.equal(new Set(all.map((r) => r.name)).size, MANY);
    assert.deepEqual([...new Set(all.map((r) => r.state))].sort(), ['drifted', 'pinned']);
    const asked = registry.manifestRequests({ userAgent: tagpinUserAgent }).slice(before).map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(asked.sort(), [
      `HEAD /v2/demo/api/manifests/${pushed['api'] ?? ''}`,
      'HEAD /v2/demo/api/manifests/v1',
      `HEAD /v2/demo/web/manifests/${pushed['web'] ?? ''}`,
    ].sort());
  });

  it('a user who may not list workloads gets one line naming the permission, exit 2', async () => {
    const token = (await kubectl.ok(['create', 'token', 'default', '-n', NS])).trim();
    const kubeconfig = await cluster.tokenKubeconfig('audit-no-rbac', token);
    const result = await audit(['-n', NS], kubeconfig);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^tagpin: cannot list [a-z.]+ in namespace apps: 403 Forbidden \(the user needs list on [a-z.]+\)\n$/);
    assert.equal(result.stdout, '');
  });

  describe('background reports (audit.enabled) with two replicas', () => {
    let replica: TagpinServer;
    const servers = (): readonly TagpinServer[] => [tagpin.server, replica];

    before(async () => {
      await tagpin.upgrade({ audit: { enabled: true, intervalSeconds: 5 } });
      replica = await tagpin.startReplica();
    });

    it('one replica holds the Lease and scans; the other never does', async () => {
      const lease = await waitFor(async () => {
        const found = await kubectl.get('lease', `${tagpin.release}-audit`, tagpin.namespace);
        const holder = (found?.['spec'] as Json | undefined)?.['holderIdentity'];
        return typeof holder === 'string' && holder !== '' ? holder : undefined;
      }, 'the audit Lease to have a holder');
      assert.ok(['tagpin-0', 'tagpin-1'].includes(lease), lease);
      const [holder, other] = lease === 'tagpin-0' ? [tagpin.server, replica] : [replica, tagpin.server];
      await holder.waitForLine((l) => l['msg'] === 'background audit: scan finished', 60_000);
      await other.waitForLine((l) => l['msg'] === 'background audit: another replica holds the Lease; not scanning' && l['holder'] === lease, 60_000);
      // Two more intervals: the holder scans again, the other still does not.
      await holder.waitForLine((l) => l['msg'] === 'background audit: scan finished' && holder.lines().filter((x) => x['msg'] === 'background audit: scan finished').length >= 2, 60_000);
      assert.equal(other.lines().filter((l) => l['msg'] === 'background audit: scan started').length, 0, 'the replica without the Lease never scanned');
    });

    it('writes a PolicyReport per namespace that agrees with tagpin audit', async () => {
      const { records: all } = await records(['-A']);
      const namespaces = [...new Set(all.map((r) => r.namespace))];
      for (const namespace of namespaces) {
        const report = await waitFor(() => kubectl.get('policyreport', 'tagpin-images', namespace), `the PolicyReport in ${namespace}`);
        const results = report['results'] as Json[];
        const fromReport = results.map((r) => {
          const resource = (r['resources'] as Json[])[0] as Json;
          return `${String(resource['kind'])}/${String(resource['name'])} ${String((r['properties'] as Json)['path'])} ${String(r['rule'])}`;
        });
        const fromCli = all.filter((r) => r.namespace === namespace).map((r) => `${r.kind}/${r.name} ${r.path} ${r.state}`);
        assert.deepEqual(fromReport.sort(), fromCli.sort(), namespace);
        const summary = report['summary'] as Json;
        const expectFail = all.filter((r) => r.namespace === namespace && r.excluded === null && ['drifted', 'unpinned', 'violation', 'missing'].includes(r.state)).length;
        assert.equal(summary['fail'], expectFail, `${namespace} summary.fail`);
      }
    });

    it('sets tagpin_cluster_images by state on the replica that scanned', async () => {
      const { records: all } = await records(['-A']);
      const holder = servers().find((s) => s.lines().some((l) => l['msg'] === 'background audit: scan finished'));
      assert.ok(holder !== undefined);
      const text = await holder.metrics();
      for (const state of ['pinned', 'drifted', 'unpinned', 'violation', 'missing', 'failed']) {
        const count = all.filter((r) => r.state === state).length;
        assert.match(text, new RegExp(`^tagpin_cluster_images\\{state="${state}"\\} ${String(count)}$`, 'm'), state);
      }
    });

    it('posts one Event per drifted or missing workload, not one per scan', async () => {
      const events = async (reason: string): Promise<Json[]> =>
        ((JSON.parse(await kubectl.ok(['get', 'events', '-n', NS, '--field-selector', `reason=${reason}`, '-o', 'json'])) as { items: Json[] }).items);
      const drifted = await events('ImageDrifted');
      assert.deepEqual(drifted.map((e) => `${String((e['involvedObject'] as Json)['kind'])}/${String((e['involvedObject'] as Json)['name'])}`), ['Deployment/api']);
      assert.match(String(drifted[0]?.['message']), /tag v1 now names sha256:/);
      const missing = await events('ImageMissing');
      assert.deepEqual(missing.map((e) => String((e['involvedObject'] as Json)['name'])), ['gone']);
      const api = await kubectl.get('deployment', 'api', NS);
      assert.equal((drifted[0]?.['involvedObject'] as Json)['uid'], (api?.['metadata'] as Json | undefined)?.['uid']);
    });

    it('when the holder stops it gives the Lease up, and the other replica takes it and scans', async () => {
      const holderName = String(((await kubectl.get('lease', `${tagpin.release}-audit`, tagpin.namespace))?.['spec'] as Json)['holderIdentity']);
      const [holder, other] = holderName === 'tagpin-0' ? [tagpin.server, replica] : [replica, tagpin.server];
      await holder.stop();
      await other.waitForLine((l) => l['msg'] === 'background audit: took the Lease', 60_000);
      await other.waitForLine((l) => l['msg'] === 'background audit: scan finished', 60_000);
      const lease = await kubectl.get('lease', `${tagpin.release}-audit`, tagpin.namespace);
      assert.notEqual((lease?.['spec'] as Json)['holderIdentity'], holderName);
    });
  });
});

async function waitForPods(kubectl: Kubectl, namespace: string, selector: string, count: number): Promise<void> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const list = JSON.parse(await kubectl.ok(['get', 'pods', '-n', namespace, '-l', selector, '-o', 'json'])) as { items: unknown[] };
    if (list.items.length >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`fewer than ${String(count)} pods with ${selector} in ${namespace}: is kube-controller-manager running?`);
}

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const found = await probe();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}
