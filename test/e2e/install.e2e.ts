// helm install of the chart into the real API server: every object accepted, and no way to lock the cluster.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { valuesArgs } from '../chart/render.ts';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { startCluster } from './support/cluster.ts';
import type { Cluster } from './support/cluster.ts';
import { kubectlFor } from './support/kubectl.ts';
import type { Json, Kubectl } from './support/kubectl.ts';
import { pod } from './support/objects.ts';
import { installTagpin } from './support/tagpin.ts';

const CERT_MANAGER_CRDS = fileURLToPath(new URL('fixtures/cert-manager-crds.yaml', import.meta.url));

interface ManifestObject {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
}

describe('helm install of the chart into a real API server', () => {
  let cluster: Cluster;
  let registry: TestRegistry;
  let kubectl: Kubectl;
  let image: string;
  let tagpinImage: Json;

  before(async () => {
    cluster = await startCluster();
    registry = await startRegistry('tls', { pki: cluster.pki });
    kubectl = kubectlFor(cluster.adminKubeconfig);
    image = `${registry.host}/demo/app:v1`;
    await registry.push('demo/app', 'v1', 'oci-manifest');
    await registry.push('tagpin/tagpin', '0.1.0', 'oci-manifest');
    tagpinImage = { repository: `${registry.host}/tagpin/tagpin`, tag: '0.1.0' };
  });
  after(async () => {
    await registry?.stop();
    await cluster?.stop();
  });

  /** helm install; fails the test with helm's stderr. Returns the objects of the release's manifest. */
  async function install(release: string, namespace: string, values: Json): Promise<ManifestObject[]> {
    const result = await kubectl.helm(['install', release, 'charts/tagpin', '-n', namespace, '--create-namespace', ...valuesArgs({ image: tagpinImage, ...values })]);
    assert.equal(result.status, 0, result.stderr);
    const manifest = await kubectl.helm(['get', 'manifest', release, '-n', namespace]);
    assert.equal(manifest.status, 0, manifest.stderr);
    return parseAllDocuments(manifest.stdout).map((d) => d.toJS() as ManifestObject | null).filter((o): o is ManifestObject => o !== null);
  }

  async function uninstall(release: string, namespace: string): Promise<void> {
    const result = await kubectl.helm(['uninstall', release, '-n', namespace]);
    assert.equal(result.status, 0, result.stderr);
  }

  /** Every object of the manifest can be read back from the API server. */
  async function assertStored(objects: readonly ManifestObject[], namespace: string): Promise<void> {
    assert.ok(objects.length > 0);
    for (const object of objects) {
      const cluster = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'ClusterRole', 'ClusterRoleBinding'].includes(object.kind);
      const stored = await kubectl.get(object.kind, object.metadata.name, cluster ? undefined : (object.metadata.namespace ?? namespace));
      assert.ok(stored !== undefined, `${object.kind}/${object.metadata.name} was not stored`);
    }
  }

  it('without image.repository, helm install fails and says how to build and push the image', async () => {
    const result = await kubectl.helm(['install', 'noimage', 'charts/tagpin', '-n', 'noimage', '--create-namespace']);
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /image\.repository/);
    assert.match(result.stderr, /Dockerfile|docker build/);
    assert.equal((await kubectl.run(['get', 'mutatingwebhookconfiguration', 'noimage-tagpin'])).status, 1, 'nothing was registered');
  });

  describe('default install (Service, tls.mode=helm) while tagpin Pods cannot start, failurePolicy Fail', () => {
    const release = 'tagpin';
    const namespace = 'tagpin-system';
    let objects: ManifestObject[];

    before(async () => {
      objects = await install(release, namespace, {});
      await kubectl.createNamespace('opted-out', { 'tagpin.dev/ignore': 'true' });
      await kubectl.createNamespace('apps');
    });
    after(async () => {
      await kubectl.helm(['uninstall', release, '-n', namespace]);
    });

    it('every object the chart renders is accepted by the API server', async () => {
      await assertStored(objects, namespace);
      const kinds = new Set(objects.map((o) => o.kind));
      for (const kind of ['Deployment', 'Service', 'ServiceAccount', 'ConfigMap', 'Secret', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'PodDisruptionBudget']) {
        assert.ok(kinds.has(kind), `the default install renders a ${kind}`);
      }
    });

    it('a matched namespace is refused: the API server cannot reach tagpin', async () => {
      const result = await kubectl.apply([pod('locked', 'apps', image)]);
      assert.notEqual(result.status, 0);
      assert.match(result.stderr, /failed calling webhook "mutate\.tagpin\.tagpin-system\.svc"/, result.stderr);
    });

    for (const namespace of ['kube-system', 'kube-node-lease', 'kube-public', 'tagpin-system', 'opted-out']) {
      it(`${namespace} keeps working`, async () => {
        const result = await kubectl.apply([pod('still-works', namespace, image)]);
        assert.equal(result.status, 0, `${namespace}: ${result.stderr}`);
      });
    }

    it('helm uninstall restores the rest', async () => {
      await uninstall(release, namespace);
      const result = await kubectl.apply([pod('unlocked', 'apps', image)]);
      assert.equal(result.status, 0, result.stderr);
      for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
        assert.equal((await kubectl.run(['get', kind, 'tagpin'])).status, 1, `${kind} removed`);
      }
    });
  });

  it('NetworkPolicy and priorityClassName: stored as rendered, admitting only the webhook and metrics ports', async () => {
    await kubectl.ok(['create', 'priorityclass', 'tagpin-critical', '--value=1000000']);
    const objects = await install('policy', 'policy', { networkPolicy: { enabled: true }, priorityClassName: 'tagpin-critical' });
    await assertStored(objects, 'policy');
    const policy = await kubectl.get('networkpolicy', 'policy-tagpin', 'policy');
    const ingress = ((policy?.['spec'] as Json)['ingress'] ?? []) as Json[];
    const ports = ingress.flatMap((rule) => ((rule['ports'] ?? []) as Json[]).map((p) => p['port']));
    assert.deepEqual(ports.sort(), ['https', 'metrics']);
    const deployment = await kubectl.get('deployment', 'policy-tagpin', 'policy');
    assert.equal((((deployment?.['spec'] as Json)['template'] as Json)['spec'] as Json)['priorityClassName'], 'tagpin-critical');
    await uninstall('policy', 'policy');
  });

  it('tls.mode=secret with webhooks.url: accepted, and the API server trusts the given CA', async () => {
    const serving = await cluster.pki.issue('tagpin-secret-mode', []);
    await kubectl.createNamespace('secret-mode');
    await kubectl.ok(['create', 'secret', 'tls', 'own-tls', '-n', 'secret-mode', `--cert=${serving.certFile}`, `--key=${serving.keyFile}`]);
    await kubectl.createNamespace('secret-apps');
    const tagpin = await installTagpin(cluster, kubectl, registry, {
      release: 'tagpin',
      namespace: 'secret-mode',
      values: { tls: { mode: 'secret', secretName: 'own-tls', secret: { caBundle: cluster.pki.caPem } } },
    });
    try {
      const result = await kubectl.apply([pod('pinned', 'secret-apps', image)]);
      assert.equal(result.status, 0, result.stderr);
      const stored = await kubectl.get('pod', 'pinned', 'secret-apps');
      assert.equal(((stored?.['spec'] as Json)['containers'] as Json[])[0]?.['image'], `${image}@${await registry.digest('demo/app', 'v1')}`);
    } finally {
      await tagpin.uninstall();
    }
  });

  it('tls.mode=cert-manager: with the CRDs applied every object is accepted, and cert-manager\'s namespace is excluded', async () => {
    await kubectl.ok(['apply', '-f', CERT_MANAGER_CRDS]);
    await kubectl.ok(['wait', '--for=condition=Established', 'crd/issuers.cert-manager.io', 'crd/certificates.cert-manager.io', '--timeout=60s']);
    await kubectl.createNamespace('cert-manager');
    const objects = await install('tagpin', 'cm-mode', { tls: { mode: 'cert-manager' } });
    try {
      await assertStored(objects, 'cm-mode');
      const kinds = objects.map((o) => o.kind);
      assert.equal(kinds.filter((k) => k === 'Certificate').length, 2, 'CA and serving Certificate');
      assert.equal(kinds.filter((k) => k === 'Issuer').length, 2, 'self-signed and CA Issuer');
      // No cert-manager runs here, so the webhooks have no CA: everything matched is refused, but
      // cert-manager's own namespace keeps working, or it could never issue tagpin's certificate.
      const result = await kubectl.apply([pod('issuer', 'cert-manager', image)]);
      assert.equal(result.status, 0, result.stderr);
    } finally {
      await uninstall('tagpin', 'cm-mode');
    }
  });
});
