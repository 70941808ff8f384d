// `tagpin serve` with credential programs: helpers of registries.dockerConfig and plugins of
// registries.credentialProviders pin private images; a pull secret can never make tagpin run one.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  helperLogin,
  pathWith,
  programDir,
  provider,
  providerLogin,
  removeProgramDir,
  writeProgram,
  writeProviderConfig,
} from '../support/credential-helpers.ts';
import type { CredentialProgram } from '../support/credential-helpers.ts';
import { startFakeKube } from '../support/fake-kube.ts';
import type { FakeKube } from '../support/fake-kube.ts';
import { pod } from '../support/objects.ts';
import { createPki } from '../support/pki.ts';
import type { Pki } from '../support/pki.ts';
import { sample } from '../support/prometheus.ts';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { admissionReview, patchOf } from '../support/reviews.ts';
import { startServe } from '../support/serve.ts';
import type { TagpinServer } from '../support/serve.ts';

describe('tagpin serve with credential helpers and provider plugins', () => {
  let pki: Pki;
  /** Reached with the docker config's credHelpers helper. */
  let helped: TestRegistry;
  /** Reached with the credential provider plugin. */
  let provided: TestRegistry;
  /** Reached with no node-level credentials at all. */
  let other: TestRegistry;
  let bin: string;
  let kube: FakeKube;
  let server: TagpinServer;
  let helper: CredentialProgram;
  let plugin: CredentialProgram;
  let failing: CredentialProgram;
  let planted: CredentialProgram;
  const digests = new Map<string, string>();

  before(async () => {
    pki = await createPki();
    [helped, provided, other] = await Promise.all([startRegistry('basic', { pki }), startRegistry('basic', { pki }), startRegistry('basic', { pki })]);
    for (const tag of ['v1', 'v2', 'v3']) digests.set(`helped:${tag}`, await helped.push('private/app', tag, 'oci-manifest'));
    for (const tag of ['v1', 'v2', 'v3']) digests.set(`provided:${tag}`, await provided.push('private/app', tag, 'oci-index'));
    await provided.push('broken/app', 'v1', 'oci-manifest');
    await other.push('private/app', 'v1', 'oci-manifest');

    bin = await programDir();
    helper = await writeProgram(bin, 'docker-credential-serve-test', { default: helperLogin(helped) });
    plugin = await writeProgram(bin, 'serve-provider', { default: providerLogin(provided, { cacheKeyType: 'Registry' }) });
    failing = await writeProgram(bin, 'failing-provider', { default: { stderr: 'metadata server unreachable', exitCode: 2 } });
    // On PATH, named by the pull secret below: it must never run.
    planted = await writeProgram(bin, 'docker-credential-planted', { default: helperLogin(other) });
    const dockerConfig = join(bin, 'config.json');
    await writeFile(dockerConfig, JSON.stringify({ credHelpers: { [helped.host]: 'serve-test' } }));
    const providers = await writeProviderConfig(bin, [
      provider('serve-provider', [provided.host]),
      provider('failing-provider', [`${provided.host}/broken`]),
    ]);

    kube = await startFakeKube({ pki });
    const planting = JSON.stringify({ auths: {}, credHelpers: { [other.host]: 'planted' }, credsStore: 'planted' });
    kube.addSecret('team-a', 'planted', 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': planting });
    for (const namespace of ['team-a', 'team-b']) kube.addServiceAccount(namespace, 'default', []);

    server = await startServe({
      config: {
        registries: { caFile: pki.caFile, allow: ['127.0.0.1'], dockerConfig, credentialProviders: { config: providers, binDir: bin } },
      },
      env: { KUBECONFIG: kube.kubeconfigFile, PATH: pathWith(bin) },
    });
  });
  after(async () => {
    await server?.stop();
    await kube?.stop();
    await Promise.all([helped?.stop(), provided?.stop(), other?.stop()]);
    await removeProgramDir(bin);
  });

  async function mutate(image: string, namespace = 'team-a', spec: Record<string, unknown> = {}) {
    return server.review('mutate', admissionReview({ object: pod([image], { namespace, spec }) }));
  }

  it('pins with the helper that registries.dockerConfig names, running it once for many admissions', async () => {
    for (const tag of ['v1', 'v2', 'v3']) {
      const image = `${helped.host}/private/app:${tag}`;
      const answer = await mutate(image);
      assert.equal(answer.response.allowed, true, answer.response.status?.message);
      assert.deepEqual(patchOf(answer), [{ op: 'replace', path: '/spec/containers/0/image', value: `${image}@${digests.get(`helped:${tag}`) ?? '?'}` }]);
    }
    assert.deepEqual(helper.runs().map((run) => [run.argv, run.input]), [[['get'], helped.host]]);
  });

  it('pins with the credential provider plugin, running it once for the registry; its digests serve every namespace', async () => {
    for (const tag of ['v1', 'v2', 'v3']) {
      const image = `${provided.host}/private/app:${tag}`;
      const answer = await mutate(image);
      assert.equal(answer.response.allowed, true, answer.response.status?.message);
      assert.deepEqual(patchOf(answer), [{ op: 'replace', path: '/spec/containers/0/image', value: `${image}@${digests.get(`provided:${tag}`) ?? '?'}` }]);
    }
    assert.equal(plugin.runs().length, 1);
    // Node-level credentials, as kubelet's: a pod of another namespace holds them too.
    const asked = provided.manifestRequests().length;
    const answer = await mutate(`${provided.host}/private/app:v1`, 'team-b');
    assert.equal(answer.response.allowed, true, answer.response.status?.message);
    assert.deepEqual(provided.manifestRequests().slice(asked), []);
  });

  it('denies an image whose plugin fails, naming the plugin, and counts REGISTRY_CREDENTIALS', async () => {
    const image = `${provided.host}/broken/app:v1`;
    const answer = await mutate(image);
    assert.equal(answer.response.allowed, false);
    assert.match(answer.response.status?.message ?? '', /credential provider failing-provider failed for 127\.0\.0\.1:\d+\/broken\/app \(exit 2: metadata server unreachable\) \(providers\[1\] in /);
    const audit = await server.auditFor(answer.response.uid);
    assert.match(JSON.stringify(audit), /credential provider failing-provider failed/);
    assert.equal(sample(await server.metrics(), 'tagpin_resolve_errors_total', { registry: provided.host, code: 'REGISTRY_CREDENTIALS' }), 1);
    assert.ok(failing.runs().length >= 1);
  });

  it('never runs a helper a pull secret names: credHelpers and credsStore there are ignored, as kubelet ignores them', async () => {
    const answer = await mutate(`${other.host}/private/app:v1`, 'team-a', { imagePullSecrets: [{ name: 'planted' }] });
    assert.equal(answer.response.allowed, false);
    assert.match(answer.response.status?.message ?? '', /unauthorized/);
    assert.ok(kube.requests('/api/v1/namespaces/team-a/secrets/planted') >= 1, 'the secret was read');
    assert.deepEqual(planted.runs(), []);
  });
});
