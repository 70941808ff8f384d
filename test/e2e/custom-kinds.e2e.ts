// Custom resources through the real API server: with the chart's argo-rollouts and knative-serving presets, Rollouts and Knative Services are stored pinned.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli, tempDir, writeConfig } from '../support/cli.ts';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { knativeService, rollout } from '../support/objects.ts';
import { startCluster } from './support/cluster.ts';
import type { Cluster } from './support/cluster.ts';
import { kubectlFor } from './support/kubectl.ts';
import type { Json, Kubectl } from './support/kubectl.ts';
import { assertPinnedCopy, imageFields } from './support/objects.ts';
import { installTagpin } from './support/tagpin.ts';
import type { InstalledTagpin } from './support/tagpin.ts';

const ROLLOUT_CRD = fileURLToPath(new URL('fixtures/argo-rollouts-crd.yaml', import.meta.url));
const KNATIVE_CRD = fileURLToPath(new URL('fixtures/knative-service-crd.yaml', import.meta.url));
const RESOURCE = 'rollouts.argoproj.io';
const NS = 'canary';

describe('kubectl with tagpin and the Argo Rollouts and Knative presets: custom resources are stored pinned', () => {
  let cluster: Cluster;
  let registry: TestRegistry;
  let kubectl: Kubectl;
  let tagpin: InstalledTagpin;
  let app: string;
  let proxy: string;
  /** Image → image@digest, with the digest the registry reported when it was pushed. */
  let pinned: Map<string, string>;

  before(async () => {
    cluster = await startCluster();
    registry = await startRegistry('tls', { pki: cluster.pki });
    app = `${registry.host}/demo/app:v1`;
    proxy = `${registry.host}/demo/proxy:1.22`;
    pinned = new Map([
      [app, `${app}@${await registry.push('demo/app', 'v1', 'oci-index')}`],
      [proxy, `${proxy}@${await registry.push('demo/proxy', '1.22', 'docker-manifest')}`],
    ]);
    kubectl = kubectlFor(cluster.adminKubeconfig);
    await kubectl.ok(['apply', '-f', ROLLOUT_CRD, '-f', KNATIVE_CRD]);
    await kubectl.ok(['wait', '--for=condition=Established', `crd/${RESOURCE}`, 'crd/services.serving.knative.dev', '--timeout=60s']);
    tagpin = await installTagpin(cluster, kubectl, registry, { values: { config: { workloads: { presets: ['argo-rollouts', 'knative-serving'] } } } });
    await kubectl.createNamespace(NS);
  });
  after(async () => {
    await tagpin?.uninstall();
    await registry?.stop();
    await cluster?.stop();
  });

  it('the chart registered both webhooks for rollouts.argoproj.io', async () => {
    for (const configuration of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
      const stored = await kubectl.get(configuration, 'tagpin');
      const rules = ((stored?.['webhooks'] as Json[])[0]?.['rules'] ?? []) as Json[];
      assert.ok(
        rules.some((r) => (r['apiGroups'] as string[]).includes('argoproj.io') && (r['resources'] as string[]).includes('rollouts')),
        `${configuration}: ${JSON.stringify(rules)}`,
      );
    }
  });

  it('kubectl apply of a Rollout stores every image pinned to the digest the registry reported, nothing else changed', async () => {
    const sent = rollout([app, proxy], { namespace: NS, spec: { initContainers: [{ name: 'migrate', image: app }] } }) as Json;
    const applied = await kubectl.apply([sent]);
    assert.equal(applied.status, 0, applied.stderr);
    const stored = await kubectl.get(RESOURCE, 'web', NS);
    assert.ok(stored !== undefined, 'the Rollout was not stored');
    assertPinnedCopy(stored, sent, pinned, 'rollout/web');
    assert.deepEqual(
      imageFields(stored['spec']).map((f) => `${f.path} ${f.image}`),
      [
        `/template/spec/containers/0/image ${pinned.get(app) ?? ''}`,
        `/template/spec/containers/1/image ${pinned.get(proxy) ?? ''}`,
        `/template/spec/initContainers/0/image ${pinned.get(app) ?? ''}`,
      ],
    );
    const [mutated] = await tagpin.server.auditWhere((l) => l['webhook'] === 'mutate' && l['kind'] === 'Rollout' && l['namespace'] === NS);
    assert.equal(mutated?.['decision'], 'patched', JSON.stringify(mutated));
    const [validated] = await tagpin.server.auditWhere((l) => l['webhook'] === 'validate' && l['kind'] === 'Rollout' && l['namespace'] === NS);
    assert.equal(validated?.['decision'], 'allowed', JSON.stringify(validated));
  });

  it('applying the same Rollout again keeps the stored digests and writes nothing', async () => {
    const before = await kubectl.get(RESOURCE, 'web', NS);
    const again = await kubectl.apply([rollout([app, proxy], { namespace: NS, spec: { initContainers: [{ name: 'migrate', image: app }] } }) as Json]);
    assert.equal(again.status, 0, again.stderr);
    const after = await kubectl.get(RESOURCE, 'web', NS);
    assert.equal((after?.['metadata'] as Json)['resourceVersion'], (before?.['metadata'] as Json)['resourceVersion']);
  });

  it('kubectl patch of the Rollout to a new tag (kubectl set image knows no custom kinds) pins that tag', async () => {
    const moved = `${registry.host}/demo/app:v2`;
    const digest = await registry.push('demo/app', 'v2', 'oci-manifest');
    const patch = [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: moved }];
    await kubectl.ok(['patch', RESOURCE, 'web', '-n', NS, '--type=json', '-p', JSON.stringify(patch)]);
    const stored = await kubectl.get(RESOURCE, 'web', NS);
    const containers = (((stored?.['spec'] as Json)['template'] as Json)['spec'] as Json)['containers'] as Json[];
    assert.equal(containers[0]?.['image'], `${moved}@${digest}`);
  });

  it('kubectl apply of a Knative Service stores it pinned, and a core Service beside it goes nowhere near tagpin', async () => {
    const sent = knativeService([app], { namespace: NS }) as Json;
    const core: Json = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'hello', namespace: NS }, spec: { ports: [{ port: 80 }] } };
    const applied = await kubectl.apply([sent, core]);
    assert.equal(applied.status, 0, applied.stderr);
    const stored = await kubectl.get('services.serving.knative.dev', 'hello', NS);
    assert.ok(stored !== undefined, 'the Knative Service was not stored');
    assertPinnedCopy(stored, sent, pinned, 'ksvc/hello');
    assert.ok((await kubectl.get('services', 'hello', NS)) !== undefined, 'the core Service was stored');
    const seen = await tagpin.server.auditWhere((l) => l['kind'] === 'Service' && l['namespace'] === NS, 2);
    assert.deepEqual(seen.map((l) => `${String(l['webhook'])} ${String(l['decision'])}`).sort(), ['mutate patched', 'validate allowed'], JSON.stringify(seen));
  });

  it('tagpin audit with the same presets lists the Rollout and the Knative Service, pinned; without them it sees neither', async () => {
    const dir = await tempDir();
    const config = await writeConfig(dir, 'tagpin.yaml', 'workloads:\n  presets: [argo-rollouts, knative-serving]\n');
    const audit = async (extra: readonly string[]): Promise<ReadonlyArray<Readonly<Record<string, unknown>>>> => {
      const result = await runCli(['audit', '--kubeconfig', cluster.adminKubeconfig, '--ca-file', cluster.pki.caFile, '-n', NS, '-o', 'json', ...extra]);
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout) as ReadonlyArray<Readonly<Record<string, unknown>>>;
    };
    const states = (records: ReadonlyArray<Readonly<Record<string, unknown>>>): string[] =>
      records.filter((r) => r['kind'] !== 'Service' || r['apiVersion'] !== 'v1').map((r) => `${String(r['kind'])}/${String(r['name'])} ${String(r['path'])} ${String(r['state'])}`);
    assert.deepEqual(states(await audit(['--config', config])).sort(), [
      'Rollout/web /spec/template/spec/containers/0/image pinned',
      'Rollout/web /spec/template/spec/containers/1/image pinned',
      'Rollout/web /spec/template/spec/initContainers/0/image pinned',
      'Service/hello /spec/template/spec/containers/0/image pinned',
    ]);
    assert.deepEqual(states(await audit([])), []);
  });
});
