// End to end: a namespace's pull secret unlocks a private image on the real registry, and only for that namespace.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import { createKubeCredentialSource } from '../../src/kube/index.ts';
import { createRegistryClient } from '../../src/registry/index.ts';
import type { Resolver } from '../../src/registry/index.ts';
import { parseReference } from '../../src/reference/index.ts';
import type { PullCredentialSource } from '../../src/admission/index.ts';
import { RegistryErrorCode } from '../../src/errors/index.ts';
import { requireRegistryBinary, startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { startFakeKube } from '../support/fake-kube.ts';
import type { FakeKube } from '../support/fake-kube.ts';

describe('pull secrets scope what the registry client may reuse', () => {
  let registry: TestRegistry;
  let kube: FakeKube;
  let source: PullCredentialSource;
  let resolver: Resolver;
  let pushed: string;

  before(async () => {
    requireRegistryBinary();
    registry = await startRegistry('basic');
    assert.ok(registry.pki !== undefined && registry.username !== undefined && registry.password !== undefined);
    pushed = await registry.push('private/app', 'v1', 'oci-manifest');
    kube = await startFakeKube({ pki: registry.pki });
    kube.addSecret('team-a', 'regcred', 'kubernetes.io/dockerconfigjson', {
      '.dockerconfigjson': JSON.stringify({ auths: { [registry.host]: { username: registry.username, password: registry.password } } }),
    });
    kube.addServiceAccount('team-a', 'default', []);
    kube.addServiceAccount('team-b', 'default', []);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kube.kubeconfigFile);
    source = createKubeCredentialSource({ kubeConfig });
    resolver = createRegistryClient({ ca: registry.pki.caPem, allow: ['127.0.0.1'] });
  });
  after(async () => {
    await resolver.close();
    await kube.stop();
    await registry.stop();
  });

  it('resolves a private image with the namespace pull secret, and refuses it to a namespace without one', async () => {
    const ref = parseReference(`${registry.host}/private/app:v1`);

    const teamA = await source.keyringFor({
      namespace: 'team-a', serviceAccountName: undefined, imagePullSecrets: ['regcred'], deadline: Date.now() + 5000,
    });
    assert.deepEqual(teamA.warnings, []);
    const resolved = await resolver.resolve(ref, { deadline: Date.now() + 5000, keyring: teamA.keyring });
    assert.equal(resolved.digest, pushed);
    assert.equal(resolved.source, 'registry');

    const teamB = await source.keyringFor({
      namespace: 'team-b', serviceAccountName: undefined, imagePullSecrets: [], deadline: Date.now() + 5000,
    });
    assert.deepEqual(teamB.warnings, []);
    const before = registry.manifestRequests().length;
    await assert.rejects(resolver.resolve(ref, { deadline: Date.now() + 5000, keyring: teamB.keyring }), {
      code: RegistryErrorCode.unauthorized,
    });
    // Refused by the registry itself, not by a guess: team B's lookup really went out, and got a 401.
    const asked = registry.manifestRequests().slice(before);
    assert.ok(asked.some((r) => r.path === '/v2/private/app/manifests/v1' && r.status === 401), JSON.stringify(asked));
  });

  it('still serves the cached digest to the namespace that holds the credentials', async () => {
    const ref = parseReference(`${registry.host}/private/app:v1`);
    const teamA = await source.keyringFor({
      namespace: 'team-a', serviceAccountName: undefined, imagePullSecrets: ['regcred'], deadline: Date.now() + 5000,
    });

    const options = { deadline: Date.now() + 5000, keyring: teamA.keyring };

    await resolver.resolve(ref, options);
    const again = await resolver.resolve(ref, options);

    assert.equal(again.digest, pushed);
    assert.equal(again.source, 'cache');
  });
});
