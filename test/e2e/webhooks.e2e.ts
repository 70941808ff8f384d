// tagpin among the API server's other machinery: reinvocation, pull secrets through its RBAC, parallel load.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { startCluster } from './support/cluster.ts';
import type { Cluster } from './support/cluster.ts';
import { kubectlFor } from './support/kubectl.ts';
import { applyDeployments } from './support/load.ts';
import { containerImages, pod } from './support/objects.ts';
import type { Json, Kubectl } from './support/kubectl.ts';
import { injectorConfiguration, startSidecarInjector } from './support/sidecar-injector.ts';
import type { SidecarInjector } from './support/sidecar-injector.ts';
import { installTagpin } from './support/tagpin.ts';
import type { InstalledTagpin } from './support/tagpin.ts';

describe('tagpin with other webhooks, pull secrets and load', () => {
  let cluster: Cluster;
  let registry: TestRegistry;
  let privateRegistry: TestRegistry;
  let kubectl: Kubectl;
  let tagpin: InstalledTagpin;
  let injector: SidecarInjector | undefined;

  before(async () => {
    cluster = await startCluster();
    // One CA for both registries: tagpin trusts it through registries.caFile.
    registry = await startRegistry('tls', { pki: cluster.pki });
    privateRegistry = await startRegistry('basic', { pki: cluster.pki });
    kubectl = kubectlFor(cluster.adminKubeconfig);
    tagpin = await installTagpin(cluster, kubectl, registry);
  });
  after(async () => {
    await injector?.close();
    await tagpin?.uninstall();
    await privateRegistry?.stop();
    await registry?.stop();
    await cluster?.stop();
  });

  it('pins a sidecar that a later webhook injects (reinvocationPolicy IfNeeded)', async () => {
    const app = `${registry.host}/demo/app:v1`;
    const sidecar = `${registry.host}/demo/proxy:1.0`;
    const appDigest = await registry.push('demo/app', 'v1', 'oci-manifest');
    const sidecarDigest = await registry.push('demo/proxy', '1.0', 'oci-index');
    await kubectl.createNamespace('mesh');
    injector = await startSidecarInjector(cluster.pki, sidecar);
    await kubectl.ok(['apply', '-f', '-'], JSON.stringify(injectorConfiguration(injector, cluster.pki.caPem, 'mesh')));
    const result = await kubectl.apply([pod('meshed', 'mesh', app)]);
    assert.equal(result.status, 0, result.stderr);
    const stored = await kubectl.get('pod', 'meshed', 'mesh');
    assert.deepEqual(containerImages(stored), [`${app}@${appDigest}`, `${sidecar}@${sidecarDigest}`]);
    assert.ok(injector.calls() >= 1);
    const calls = await tagpin.server.auditWhere((l) => l['webhook'] === 'mutate' && l['namespace'] === 'mesh' && l['kind'] === 'Pod', 2);
    assert.equal(calls.length, 2, 'tagpin ran, the injector ran, tagpin ran again');
    await kubectl.ok(['delete', 'mutatingwebhookconfiguration', 'zz-sidecar-injector']);
  });

  describe('pull secrets, read with the chart ServiceAccount token and RBAC', () => {
    let image: string;
    let digest: string;

    before(async () => {
      assert.ok(privateRegistry.username !== undefined && privateRegistry.password !== undefined);
      digest = await privateRegistry.push('private/app', 'v1', 'oci-manifest');
      image = `${privateRegistry.host}/private/app:v1`;
      await kubectl.createNamespace('team-a');
      await kubectl.createNamespace('team-b');
      await kubectl.ok([
        'create', 'secret', 'docker-registry', 'regcred', '-n', 'team-a',
        `--docker-server=${privateRegistry.host}`, `--docker-username=${privateRegistry.username}`, `--docker-password=${privateRegistry.password}`,
      ]);
    });

    it('tagpin reads Secrets only through what the chart grants its ServiceAccount', async () => {
      const can = async (verb: string, resource: string): Promise<string> =>
        (await kubectl.run(['auth', 'can-i', verb, resource, '-n', 'team-a', `--as=system:serviceaccount:${tagpin.namespace}:tagpin`])).stdout.trim();
      assert.equal(await can('get', 'secrets'), 'yes');
      assert.equal(await can('get', 'serviceaccounts'), 'yes');
      assert.equal(await can('list', 'secrets'), 'no');
      assert.equal(await can('watch', 'secrets'), 'no');
      assert.equal(await can('create', 'pods'), 'no');
    });

    it('a private image with an imagePullSecret in namespace A is pinned', async () => {
      const result = await kubectl.apply([pod('private', 'team-a', image, { imagePullSecrets: [{ name: 'regcred' }] })]);
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(containerImages(await kubectl.get('pod', 'private', 'team-a')), [`${image}@${digest}`]);
    });

    it('the same image in namespace B without the secret is not pinned', async () => {
      const result = await kubectl.apply([pod('private', 'team-b', image)]);
      assert.notEqual(result.status, 0, 'onError deny refuses what cannot be pinned');
      assert.match(result.stderr, /admission webhook "mutate\.tagpin\.tagpin\.svc" denied the request/, result.stderr);
      assert.ok(result.stderr.includes(image), result.stderr);
      assert.equal(await kubectl.get('pod', 'private', 'team-b'), undefined);
      assert.ok(!tagpin.server.lines().some((l) => JSON.stringify(l).includes(privateRegistry.password ?? '\u0000')), 'the password never reaches the log');
    });
  });

  it('100 Deployments applied by 20 parallel clients are all stored pinned, none refused', async () => {
    const namespace = 'load';
    await kubectl.createNamespace(namespace);
    const run = await applyDeployments(cluster, kubectl, registry, { namespace, deployments: 100, clients: 20, webhook: 'mutate.tagpin.tagpin.svc' });
    for (const result of run.results) assert.equal(result.status, 0, result.stderr);
    const list = JSON.parse(await kubectl.ok(['get', 'deployments', '-n', namespace, '-o', 'json'])) as { items: Json[] };
    assert.equal(list.items.length, 100);
    for (const item of list.items) {
      const name = String((item['metadata'] as Json)['name']);
      const image = run.applied.get(name) ?? '';
      assert.deepEqual(containerImages((item['spec'] as Json)['template'] as Json), [`${image}@${run.digests.get(image) ?? ''}`], name);
    }
    // Five distinct tags, one manifest request each: the rest came from tagpin's cache.
    assert.equal(run.figures.manifestRequests, run.digests.size);
    assert.ok(run.figures.admissions >= 100, 'the API server measured every call to tagpin');
    process.stdout.write(`# apiserver_admission_webhook_admission_duration_seconds for tagpin: ${JSON.stringify(run.figures)}\n`);
  });
});
