// /mutate with pull secrets: the pod's imagePullSecrets and its service account's reach the registry lookup, per namespace.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeKube } from '../support/fake-kube.ts';
import type { FakeKube } from '../support/fake-kube.ts';
import { requireRegistryBinary, startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { deployment, pod } from '../support/objects.ts';
import { admissionReview, patchOf } from '../support/reviews.ts';
import { startServe } from '../support/serve.ts';
import type { TagpinServer } from '../support/serve.ts';

describe('tagpin serve with pull secrets from the Kubernetes API', () => {
  let registry: TestRegistry;
  let kube: FakeKube;
  let server: TagpinServer;
  let digest: string;
  let image: string;

  before(async () => {
    requireRegistryBinary();
    registry = await startRegistry('basic');
    assert.ok(registry.pki !== undefined && registry.username !== undefined && registry.password !== undefined);
    digest = await registry.push('private/app', 'v1', 'oci-manifest');
    image = `${registry.host}/private/app:v1`;
    kube = await startFakeKube({ pki: registry.pki });
    const dockerconfig = JSON.stringify({ auths: { [registry.host]: { username: registry.username, password: registry.password } } });
    kube.addSecret('team-a', 'regcred', 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': dockerconfig });
    kube.addServiceAccount('team-a', 'default', []);
    kube.addServiceAccount('team-b', 'default', []);
    kube.addSecret('team-c', 'builder-cred', 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': dockerconfig });
    kube.addServiceAccount('team-c', 'builder', ['builder-cred']);
    server = await startServe({
      config: { registries: { caFile: registry.pki.caFile, allow: ['127.0.0.1'] } },
      env: { KUBECONFIG: kube.kubeconfigFile },
    });
  });
  after(async () => {
    await server?.stop();
    await kube?.stop();
    await registry?.stop();
  });

  it("pins a private image with the pod's imagePullSecret", async () => {
    const answer = await server.review('mutate', admissionReview({ object: pod([image], { namespace: 'team-a', spec: { imagePullSecrets: [{ name: 'regcred' }] } }) }));
    assert.equal(answer.response.allowed, true, answer.response.status?.message);
    assert.deepEqual(patchOf(answer), [{ op: 'replace', path: '/spec/containers/0/image', value: `${image}@${digest}` }]);
    assert.ok(kube.requests('/api/v1/namespaces/team-a/secrets/regcred') >= 1);
  });

  it('does not serve a digest learned with one namespace\'s secret from cache to a namespace without it', async () => {
    const learned = await server.review('mutate', admissionReview({ object: pod([image], { namespace: 'team-a', spec: { imagePullSecrets: [{ name: 'regcred' }] } }) }));
    assert.deepEqual(patchOf(learned), [{ op: 'replace', path: '/spec/containers/0/image', value: `${image}@${digest}` }]);
    const asked = registry.manifestRequests().length;
    const answer = await server.review('mutate', admissionReview({ object: pod([image], { namespace: 'team-b' }) }));
    assert.equal(answer.response.allowed, false);
    assert.match(answer.response.status?.message ?? '', /unauthorized: no credentials matched/);
    // Asked anew, without credentials, and refused: the cached digest was not handed over.
    assert.deepEqual(registry.manifestRequests().slice(asked), [{ method: 'HEAD', path: '/v2/private/app/manifests/v1', status: 401 }]);
  });

  it("pins a Deployment template with its service account's pull secret", async () => {
    const object = deployment([image], { namespace: 'team-c', spec: { serviceAccountName: 'builder' } });
    const answer = await server.review('mutate', admissionReview({ object }));
    assert.equal(answer.response.allowed, true, answer.response.status?.message);
    assert.deepEqual(patchOf(answer), [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: `${image}@${digest}` }]);
    assert.ok(kube.requests('/api/v1/namespaces/team-c/serviceaccounts/builder') >= 1);
  });

  it('warns about a missing pull secret and resolves without it', async () => {
    const answer = await server.review('mutate', admissionReview({ object: pod([image], { namespace: 'team-b', spec: { imagePullSecrets: [{ name: 'gone' }] } }) }));
    assert.equal(answer.response.allowed, false);
    assert.ok((answer.response.warnings ?? []).some((w) => w.includes('team-b/gone')), JSON.stringify(answer.response.warnings));
    // Secret contents never reach the logs.
    assert.doesNotMatch(JSON.stringify(server.lines()), new RegExp(registry.password ?? 'never'));
  });
});
