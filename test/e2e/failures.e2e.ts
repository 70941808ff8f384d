// When a registry or tagpin itself is down: what the real API server answers kubectl.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { startCluster } from './support/cluster.ts';
import type { Cluster } from './support/cluster.ts';
import { kubectlFor } from './support/kubectl.ts';
import type { Kubectl } from './support/kubectl.ts';
import { containerImages, pod } from './support/objects.ts';
import { installTagpin } from './support/tagpin.ts';
import type { InstalledTagpin } from './support/tagpin.ts';

const NS = 'apps';

describe('kubectl when a registry or tagpin is down', () => {
  let cluster: Cluster;
  let registry: TestRegistry;
  let kubectl: Kubectl;
  let tagpin: InstalledTagpin;
  let image: string;

  before(async () => {
    cluster = await startCluster();
    registry = await startRegistry('tls', { pki: cluster.pki });
    image = `${registry.host}/demo/app:v1`;
    await registry.push('demo/app', 'v1', 'oci-manifest');
    kubectl = kubectlFor(cluster.adminKubeconfig);
    tagpin = await installTagpin(cluster, kubectl, registry);
    await kubectl.createNamespace(NS);
  });
  after(async () => {
    await tagpin?.uninstall();
    await registry?.stop();
    await cluster?.stop();
  });

  it("registry down with onError deny: kubectl shows tagpin's reason, not a webhook timeout", async () => {
    const down = await startRegistry('tls', { pki: cluster.pki });
    const gone = `${down.host}/demo/app:v1`;
    await down.push('demo/app', 'v1', 'oci-manifest');
    await down.stop();
    const result = await kubectl.apply([pod('registry-down', NS, gone)]);
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /admission webhook "mutate\.tagpin\.tagpin\.svc" denied the request/, result.stderr);
    assert.ok(result.stderr.includes(gone), result.stderr);
    assert.match(result.stderr, /connection refused/, result.stderr);
    assert.doesNotMatch(result.stderr, /context deadline exceeded|timeout/i, 'answered by tagpin, not cut off by the API server');
    assert.equal(await kubectl.get('pod', 'registry-down', NS), undefined);
  });

  describe('tagpin stopped', () => {
    before(async () => {
      await tagpin.stopServer();
    });
    after(async () => {
      await tagpin.upgrade({ webhooks: { failurePolicy: 'Fail' } });
    });

    it('with failurePolicy Fail the API server refuses in matched namespaces', async () => {
      const result = await kubectl.apply([pod('refused', NS, image)]);
      assert.notEqual(result.status, 0);
      assert.match(result.stderr, /failed calling webhook "mutate\.tagpin\.tagpin\.svc"/, result.stderr);
      assert.match(result.stderr, /connection refused/, result.stderr);
      assert.equal(await kubectl.get('pod', 'refused', NS), undefined);
    });

    it('excluded namespaces keep working', async () => {
      for (const namespace of ['kube-system', tagpin.namespace]) {
        const result = await kubectl.apply([pod(`while-down-${namespace}`, namespace, image)]);
        assert.equal(result.status, 0, `${namespace}: ${result.stderr}`);
        const stored = await kubectl.get('pod', `while-down-${namespace}`, namespace);
        assert.deepEqual(containerImages(stored), [image], 'not pinned: tagpin was not asked');
      }
    });

    it('with failurePolicy Ignore objects are admitted, unpinned', async () => {
      // upgrade() restarts tagpin serve; stop it again to see what Ignore does.
      await tagpin.upgrade({ webhooks: { failurePolicy: 'Ignore' } });
      await tagpin.stopServer();
      const result = await kubectl.apply([pod('ignored', NS, image)]);
      assert.equal(result.status, 0, result.stderr);
      const stored = await kubectl.get('pod', 'ignored', NS);
      assert.deepEqual(containerImages(stored), [image]);
    });
  });

  it('pins again once tagpin is back', async () => {
    const result = await kubectl.apply([pod('back', NS, image)]);
    assert.equal(result.status, 0, result.stderr);
    const stored = await kubectl.get('pod', 'back', NS);
    assert.deepEqual(containerImages(stored), [`${image}@${await registry.digest('demo/app', 'v1')}`]);
  });
});
