// Where the kube adapter finds the API: in-cluster service account, KUBECONFIG, or nowhere.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createKubeCredentialSource, loadKubeConfig } from '../../src/kube/index.ts';
import { startFakeKube } from '../support/fake-kube.ts';
import type { FakeKube } from '../support/fake-kube.ts';

const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT, config: process.env.KUBECONFIG };

function restoreEnv(): void {
  if (saved.host === undefined) delete process.env.KUBERNETES_SERVICE_HOST;
  else process.env.KUBERNETES_SERVICE_HOST = saved.host;
  if (saved.port === undefined) delete process.env.KUBERNETES_SERVICE_PORT;
  else process.env.KUBERNETES_SERVICE_PORT = saved.port;
  if (saved.config === undefined) delete process.env.KUBECONFIG;
  else process.env.KUBECONFIG = saved.config;
}

describe('loadKubeConfig', () => {
  let kube: FakeKube;
  let dir: string;

  before(async () => {
    kube = await startFakeKube();
    dir = await mkdtemp(join(tmpdir(), 'tagpin-kubeconfig-'));
  });
  after(async () => {
    await kube.stop();
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(restoreEnv);

  it('finds nothing outside a cluster without KUBECONFIG', () => {
    delete process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBECONFIG;

    assert.equal(loadKubeConfig(), undefined);
  });

  it('uses the in-cluster service account when KUBERNETES_SERVICE_HOST is set', () => {
    process.env.KUBERNETES_SERVICE_HOST = '10.96.0.1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    process.env.KUBECONFIG = kube.kubeconfigFile;

    const config = loadKubeConfig();

    assert.equal(config?.getCurrentCluster()?.server, 'https://10.96.0.1:443');
    assert.equal(config.getCurrentCluster()?.caFile, '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt');
  });

  it('reads KUBECONFIG, and a source built without options talks to that cluster', async () => {
    delete process.env.KUBERNETES_SERVICE_HOST;
    process.env.KUBECONFIG = kube.kubeconfigFile;
    kube.addSecret('env', 'regcred', 'kubernetes.io/dockerconfigjson', {
      '.dockerconfigjson': JSON.stringify({ auths: { 'registry.example.com': { username: 'env-user', password: 'p' } } }),
    });
    kube.addServiceAccount('env', 'default', []);

    assert.equal(loadKubeConfig()?.getCurrentCluster()?.server, kube.url);
    const { keyring, warnings } = await createKubeCredentialSource().keyringFor({
      namespace: 'env', serviceAccountName: undefined, imagePullSecrets: ['regcred'], deadline: Date.now() + 5000,
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual((await keyring.lookup('registry.example.com/app', { deadline: Number.POSITIVE_INFINITY })).map((c) => c.username), ['env-user']);
  });

  it('merges a KUBECONFIG list, keeping the first current context', async () => {
    const other = join(dir, 'other.yaml');
    await writeFile(other, [
      'apiVersion: v1', 'kind: Config',
      'clusters: [{name: other, cluster: {server: "https://other.example.com"}}]',
      'users: [{name: other, user: {token: t}}]',
      'contexts: [{name: other, context: {cluster: other, user: other}}]',
      'current-context: other', '',
    ].join('\n'));
    delete process.env.KUBERNETES_SERVICE_HOST;
    process.env.KUBECONFIG = [kube.kubeconfigFile, other].join(delimiter);

    const config = loadKubeConfig();

    assert.equal(config?.getCurrentCluster()?.server, kube.url);
    assert.deepEqual(config.getClusters().map((c) => c.name), ['fake', 'other']);
  });

  it('names the file when KUBECONFIG points at nothing', () => {
    delete process.env.KUBERNETES_SERVICE_HOST;
    process.env.KUBECONFIG = join(dir, 'absent.yaml');

    assert.throws(() => loadKubeConfig(), {
      code: 'CONFIG_INVALID',
      message: `KUBECONFIG file ${join(dir, 'absent.yaml')} cannot be read: ENOENT`,
    });
  });

  it('asks for a current context when the kubeconfig has none', async () => {
    const file = join(dir, 'no-context.yaml');
    await writeFile(file, 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://c.example.com"}}]\n');
    delete process.env.KUBERNETES_SERVICE_HOST;
    process.env.KUBECONFIG = file;

    assert.throws(() => loadKubeConfig(), {
      code: 'CONFIG_INVALID',
      message: `KUBECONFIG ${file} has no current context with a cluster; set current-context`,
    });
  });
});
