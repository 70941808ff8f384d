// `tagpin serve` with HTTPS_PROXY and NO_PROXY: registry lookups go through a real tinyproxy, the Kubernetes API does not.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeKube } from '../support/fake-kube.ts';
import type { FakeKube } from '../support/fake-kube.ts';
import { startHttpProxy } from '../support/http-proxy.ts';
import type { HttpProxy } from '../support/http-proxy.ts';
import { createPki } from '../support/pki.ts';
import { requireRegistryBinary, startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { pod } from '../support/objects.ts';
import { admissionReview, patchOf } from '../support/reviews.ts';
import { startServe } from '../support/serve.ts';
import type { TagpinServer } from '../support/serve.ts';

describe('tagpin serve through an HTTPS proxy', () => {
  let proxied: TestRegistry;
  let direct: TestRegistry;
  let proxy: HttpProxy;
  let kube: FakeKube;
  let server: TagpinServer;
  const pushed = { proxied: '', direct: '' };

  before(async () => {
    requireRegistryBinary();
    const pki = await createPki();
    [proxied, direct, proxy] = await Promise.all([startRegistry('basic', { pki }), startRegistry('tls', { pki }), startHttpProxy({ basicAuth: true })]);
    [pushed.proxied, pushed.direct] = await Promise.all([proxied.push('private/app', 'v1', 'oci-manifest'), direct.push('demo/app', 'v1', 'oci-index')]);
    kube = await startFakeKube({ pki });
    const dockerconfig = JSON.stringify({ auths: { [proxied.host]: { username: proxied.username, password: proxied.password } } });
    kube.addSecret('team-a', 'regcred', 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': dockerconfig });
    kube.addServiceAccount('team-a', 'default', []);
    server = await startServe({
      config: { registries: { caFile: pki.caFile, privateHosts: ['127.0.0.1'] } },
      env: { KUBECONFIG: kube.kubeconfigFile, HTTPS_PROXY: proxy.url, NO_PROXY: direct.host, TAGPIN_LOG_LEVEL: 'trace' },
    });
  });
  after(async () => {
    await server?.stop();
    await kube?.stop();
    await Promise.all([proxied?.stop(), direct?.stop(), proxy?.stop()]);
  });

  it('logs at start that a proxy is in use, for which scheme, without its credentials', () => {
    const line = server.lines().find((l) => l['msg'] === 'registry and token requests go through a proxy');
    assert.deepEqual(line?.['proxy'], { https: `${proxy.host} (HTTPS_PROXY)`, noProxy: `${direct.host} (NO_PROXY)` });
    const everything = `${JSON.stringify(server.lines())}${server.stderr()}`;
    assert.ok(!everything.includes(proxy.password ?? 'unset'));
    assert.ok(!everything.includes(Buffer.from(`${proxy.username ?? ''}:${proxy.password ?? ''}`).toString('base64')));
  });

  it("pins through the proxy with the pod's pull secret, reads the secret directly, and skips the proxy for NO_PROXY", async () => {
    const proxiedImage = `${proxied.host}/private/app:v1`;
    const directImage = `${direct.host}/demo/app:v1`;
    const before = proxy.requests().length;
    const answer = await server.review(
      'mutate',
      admissionReview({ object: pod([proxiedImage, directImage], { namespace: 'team-a', spec: { imagePullSecrets: [{ name: 'regcred' }] } }) }),
    );
    assert.equal(answer.response.allowed, true, answer.response.status?.message);
    assert.deepEqual(patchOf(answer), [
      { op: 'replace', path: '/spec/containers/0/image', value: `${proxiedImage}@${pushed.proxied}` },
      { op: 'replace', path: '/spec/containers/1/image', value: `${directImage}@${pushed.direct}` },
    ]);
    // The Kubernetes client ignores the proxy variables: the secret was read, and not through the proxy.
    assert.ok(kube.requests('/api/v1/namespaces/team-a/secrets/regcred') >= 1);
    assert.deepEqual([...new Set(proxy.tunnels().slice(before))], [proxied.host]);
    assert.ok(!JSON.stringify(server.lines()).includes(proxy.password ?? 'unset'));
  });

  it('still refuses a metadata address without contacting the proxy', async () => {
    const before = proxy.requests().length;
    const answer = await server.review('mutate', admissionReview({ object: pod(['169.254.169.254/latest/meta-data:v1']) }));
    assert.equal(answer.response.allowed, false);
    assert.match(answer.response.status?.message ?? '', /refusing to contact 169\.254\.169\.254: 169\.254\.169\.254 is a link-local or cloud metadata address/);
    assert.deepEqual(proxy.requests().slice(before), []);
  });
});
