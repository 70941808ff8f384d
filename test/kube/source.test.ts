// Behaviour of the cluster pull-credential source against a fake Kubernetes API.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import { createKubeCredentialSource } from '../../src/kube/index.ts';
import type { KubeObserver } from '../../src/kube/index.ts';
import { startFakeKube } from '../support/fake-kube.ts';
import type { FakeKube } from '../support/fake-kube.ts';
import { eventually } from '../support/wait.ts';

const dockerconfigjson = 'kubernetes.io/dockerconfigjson';
const dockercfg = 'kubernetes.io/dockercfg';

/** A `.dockerconfigjson` document granting `user`/`pass` on `registry`. */
function configJson(registry: string, user: string, pass: string): Record<string, string> {
  return { '.dockerconfigjson': JSON.stringify({ auths: { [registry]: { username: user, password: pass } } }) };
}

/** A legacy `.dockercfg` document (top-level map, `auth` = base64 user:pass). */
function configLegacy(registry: string, user: string, pass: string): Record<string, string> {
  const auth = Buffer.from(`${user}:${pass}`).toString('base64');
  return { '.dockercfg': JSON.stringify({ [registry]: { auth, email: 'ci@example.com' } }) };
}

const secretPath = (ns: string, name: string): string => `/api/v1/namespaces/${ns}/secrets/${name}`;
const accountPath = (ns: string, name: string): string => `/api/v1/namespaces/${ns}/serviceaccounts/${name}`;
/** Keyrings of pull secrets answer at once; the lookup's deadline does not matter to them. */
const ANY_TIME = { deadline: Number.POSITIVE_INFINITY };

describe('kube credential source', () => {
  let kube: FakeKube;
  let kubeConfig: KubeConfig;

  before(async () => {
    kube = await startFakeKube();
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kube.kubeconfigFile);
  });
  after(async () => {
    await kube.stop();
  });

  const soon = (ms = 5000): number => Date.now() + ms;

  it("puts the pod's own pull secrets before its service account's", async () => {
    kube.addSecret('merge', 'pod-cred', dockerconfigjson, configJson('127.0.0.1:5000', 'pod-user', 'pod-pass'));
    kube.addSecret('merge', 'sa-cred', dockercfg, configLegacy('127.0.0.1:5000', 'sa-user', 'sa-pass'));
    kube.addServiceAccount('merge', 'builder', ['sa-cred']);
    const source = createKubeCredentialSource({ kubeConfig });

    const { keyring, warnings } = await source.keyringFor({
      namespace: 'merge', serviceAccountName: 'builder', imagePullSecrets: ['pod-cred'], deadline: soon(),
    });

    assert.deepEqual(warnings, []);
    const found = await keyring.lookup('127.0.0.1:5000/team/app', ANY_TIME);
    assert.deepEqual(found.map((c) => [c.username, c.password, c.source]), [
      ['pod-user', 'pod-pass', 'secret merge/pod-cred'],
      ['sa-user', 'sa-pass', 'secret merge/sa-cred'],
    ]);
  });

  it('reads both dockerconfigjson and legacy dockercfg secrets, each for its own registry', async () => {
    kube.addSecret('kinds', 'new-style', dockerconfigjson, configJson('registry.example.com', 'json-user', 'json-pass'));
    kube.addSecret('kinds', 'old-style', dockercfg, configLegacy('legacy.example.com:8443', 'cfg-user', 'cfg-pass'));
    kube.addServiceAccount('kinds', 'default', []);
    const source = createKubeCredentialSource({ kubeConfig });

    const { keyring, warnings } = await source.keyringFor({
      namespace: 'kinds', serviceAccountName: undefined, imagePullSecrets: ['new-style', 'old-style'], deadline: soon(),
    });

    assert.deepEqual(warnings, []);
    assert.deepEqual((await keyring.lookup('registry.example.com/a/b', ANY_TIME)).map((c) => c.username), ['json-user']);
    assert.deepEqual((await keyring.lookup('legacy.example.com:8443/a/b', ANY_TIME)).map((c) => c.username), ['cfg-user']);
    assert.deepEqual(await keyring.lookup('other.example.com/a/b', ANY_TIME), []);
  });

  it('falls back to the default service account and uses a secret named twice only once', async () => {
    kube.addSecret('fallback', 'shared', dockerconfigjson, configJson('127.0.0.1:5000', 'shared-user', 'p'));
    kube.addServiceAccount('fallback', 'default', ['shared']);
    const source = createKubeCredentialSource({ kubeConfig });

    const { keyring, warnings } = await source.keyringFor({
      namespace: 'fallback', serviceAccountName: '', imagePullSecrets: ['shared'], deadline: soon(),
    });

    assert.deepEqual(warnings, []);
    assert.deepEqual((await keyring.lookup('127.0.0.1:5000/x', ANY_TIME)).map((c) => c.username), ['shared-user']);
    assert.equal(kube.requests(accountPath('fallback', 'default')), 1);
    assert.equal(kube.requests(secretPath('fallback', 'shared')), 1);
  });

  it('warns about a missing secret and a missing service account, and carries on with the rest', async () => {
    kube.addSecret('missing', 'present', dockerconfigjson, configJson('127.0.0.1:5000', 'present-user', 'p'));
    const source = createKubeCredentialSource({ kubeConfig });

    const { keyring, warnings } = await source.keyringFor({
      namespace: 'missing', serviceAccountName: 'ghost', imagePullSecrets: ['regcred', 'present'], deadline: soon(),
    });

    assert.deepEqual(warnings, [
      'imagePullSecret missing/regcred not found; resolving anonymously',
      'service account missing/ghost not found; resolving without its imagePullSecrets',
    ]);
    assert.deepEqual((await keyring.lookup('127.0.0.1:5000/x', ANY_TIME)).map((c) => c.username), ['present-user']);
  });

  it("warns when RBAC forbids reading a secret and still uses the service account's", async () => {
    kube.addSecret('rbac', 'locked', dockerconfigjson, configJson('127.0.0.1:5000', 'never-read', 'p'));
    kube.addSecret('rbac', 'open', dockerconfigjson, configJson('127.0.0.1:5000', 'open-user', 'p'));
    kube.addServiceAccount('rbac', 'default', ['open']);
    kube.forbid(secretPath('rbac', 'locked'));
    const source = createKubeCredentialSource({ kubeConfig });

    const { keyring, warnings } = await source.keyringFor({
      namespace: 'rbac', serviceAccountName: undefined, imagePullSecrets: ['locked'], deadline: soon(),
    });

    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /^imagePullSecret rbac\/locked could not be read \(403 Forbidden: tagpin needs get on secrets in rbac\)/);
    assert.deepEqual((await keyring.lookup('127.0.0.1:5000/x', ANY_TIME)).map((c) => c.username), ['open-user']);
  });

  it('ignores secrets that are not docker configs, with a warning that never quotes their contents', async () => {
    kube.addSecret('types', 'opaque', 'Opaque', { password: 'opaque-hunter2' });
    kube.addSecret('types', 'broken', dockerconfigjson, { '.dockerconfigjson': '{"auths": {"r.example.com": "broken-hunter2"' });
    kube.addSecret('types', 'empty', dockercfg, {});
    kube.addServiceAccount('types', 'default', []);
    const source = createKubeCredentialSource({ kubeConfig });

    const { keyring, warnings } = await source.keyringFor({
      namespace: 'types', serviceAccountName: undefined, imagePullSecrets: ['opaque', 'broken', 'empty'], deadline: soon(),
    });

    assert.deepEqual(warnings, [
      'imagePullSecret types/opaque has type Opaque, not kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg; ignored',
      'imagePullSecret types/broken holds .dockerconfigjson data that is not valid JSON; ignored',
      'imagePullSecret types/empty has no .dockercfg data; ignored',
    ]);
    assert.ok(warnings.every((w) => !w.includes('hunter2')));
    assert.deepEqual(await keyring.lookup('r.example.com/x', ANY_TIME), []);
  });

  it('answers by the deadline with a warning when the API is slower than the deadline', async () => {
    kube.addSecret('slow', 'regcred', dockerconfigjson, configJson('127.0.0.1:5000', 'u', 'p'));
    kube.addServiceAccount('slow', 'default', []);
    kube.setDelay(60_000);
    const before = { abandoned: kube.abandoned(), requests: kube.requests() };
    try {
      const source = createKubeCredentialSource({ kubeConfig });
      const { keyring, warnings } = await source.keyringFor({
        // Long enough for both reads to reach the API even on a busy machine; the API holds them far longer.
        namespace: 'slow', serviceAccountName: undefined, imagePullSecrets: ['regcred'], deadline: Date.now() + 1500,
      });

      // Answered without what the API holds back: the deadline, not the API, ended the reads.
      assert.deepEqual(await keyring.lookup('127.0.0.1:5000/x', ANY_TIME), []);
      assert.deepEqual(warnings, [
        'imagePullSecret slow/regcred could not be read before the deadline (Kubernetes API too slow); resolving anonymously',
        'service account slow/default could not be read before the deadline (Kubernetes API too slow); resolving without its imagePullSecrets',
      ]);
      // Both reads reached the API and were aborted, not left running until it got round to them (it notices just after).
      assert.equal(kube.requests() - before.requests, 2);
      await eventually(() => kube.abandoned() - before.abandoned === 2, 'the API to see both reads abandoned');
    } finally {
      kube.setDelay(0);
    }
  });

  it('does not cache a read that timed out, so the next admission tries again', async () => {
    kube.addSecret('retry', 'regcred', dockerconfigjson, configJson('127.0.0.1:5000', 'retry-user', 'p'));
    kube.addServiceAccount('retry', 'default', []);
    const source = createKubeCredentialSource({ kubeConfig });
    const request = { namespace: 'retry', serviceAccountName: undefined, imagePullSecrets: ['regcred'] };

    kube.setDelay(60_000);
    try {
      const late = await source.keyringFor({ ...request, deadline: Date.now() + 200 });
      assert.equal(late.warnings.length, 2);
    } finally {
      kube.setDelay(0);
    }
    // Counted from here: on a busy machine the first read may time out before it even reaches the API.
    const asked = kube.requests(secretPath('retry', 'regcred'));
    const next = await source.keyringFor({ ...request, deadline: soon() });

    assert.deepEqual(next.warnings, []);
    assert.deepEqual((await next.keyring.lookup('127.0.0.1:5000/x', ANY_TIME)).map((c) => c.username), ['retry-user']);
    assert.equal(kube.requests(secretPath('retry', 'regcred')), asked + 1);
  });

  it('reads each object once for 20 concurrent admissions', async () => {
    kube.addSecret('burst', 'pod-cred', dockerconfigjson, configJson('127.0.0.1:5000', 'pod-user', 'p'));
    kube.addSecret('burst', 'sa-cred', dockerconfigjson, configJson('127.0.0.1:5000', 'sa-user', 'p'));
    kube.addServiceAccount('burst', 'runner', ['sa-cred']);
    const cache: string[] = [];
    const reads: string[] = [];
    const observer: KubeObserver = {
      onCache: (result) => { cache.push(result); },
      onRead: (event) => { reads.push(`${event.kind}:${event.result}`); },
    };
    const source = createKubeCredentialSource({ kubeConfig, observer });

    const results = await Promise.all(Array.from({ length: 20 }, () => source.keyringFor({
      namespace: 'burst', serviceAccountName: 'runner', imagePullSecrets: ['pod-cred'], deadline: soon(),
    })));

    for (const { keyring, warnings } of results) {
      assert.deepEqual(warnings, []);
      assert.deepEqual((await keyring.lookup('127.0.0.1:5000/x', ANY_TIME)).map((c) => c.username), ['pod-user', 'sa-user']);
    }
    assert.equal(kube.requests(secretPath('burst', 'pod-cred')), 1);
    assert.equal(kube.requests(secretPath('burst', 'sa-cred')), 1);
    assert.equal(kube.requests(accountPath('burst', 'runner')), 1);
    assert.deepEqual(reads.sort(), ['secret:found', 'secret:found', 'serviceaccount:found']);
    assert.equal(cache.filter((r) => r === 'miss').length, 3);
    assert.equal(cache.length, 60);
  });

  it('remembers objects and their absence for the cache lifetime, then reads them again', async () => {
    kube.addSecret('expiry', 'regcred', dockerconfigjson, configJson('127.0.0.1:5000', 'first-user', 'p'));
    const source = createKubeCredentialSource({ kubeConfig, cacheTtlMs: 300 });
    const request = { namespace: 'expiry', serviceAccountName: undefined, imagePullSecrets: ['regcred'] };

    const first = await source.keyringFor({ ...request, deadline: soon() });
    // Changes within the lifetime are not seen: the cached secret and the cached "no service account" answer.
    kube.addSecret('expiry', 'regcred', dockerconfigjson, configJson('127.0.0.1:5000', 'rotated-user', 'p'));
    kube.addServiceAccount('expiry', 'default', []);
    const second = await source.keyringFor({ ...request, deadline: soon() });

    assert.deepEqual((await first.keyring.lookup('127.0.0.1:5000/x', ANY_TIME)).map((c) => c.username), ['first-user']);
    assert.deepEqual((await second.keyring.lookup('127.0.0.1:5000/x', ANY_TIME)).map((c) => c.username), ['first-user']);
    assert.deepEqual(second.warnings, ['service account expiry/default not found; resolving without its imagePullSecrets']);
    assert.equal(kube.requests(secretPath('expiry', 'regcred')), 1);
    assert.equal(kube.requests(accountPath('expiry', 'default')), 1);

    await new Promise((resolve) => setTimeout(resolve, 400));
    const third = await source.keyringFor({ ...request, deadline: soon() });

    assert.deepEqual((await third.keyring.lookup('127.0.0.1:5000/x', ANY_TIME)).map((c) => c.username), ['rotated-user']);
    assert.deepEqual(third.warnings, []);
    assert.equal(kube.requests(secretPath('expiry', 'regcred')), 2);
    assert.equal(kube.requests(accountPath('expiry', 'default')), 2);
  });

  it('sends only GETs of single objects, with the bearer token of the kubeconfig', async () => {
    kube.addServiceAccount('verbs', 'default', []);
    const before = kube.requests();
    const source = createKubeCredentialSource({ kubeConfig });

    const { warnings } = await source.keyringFor({
      namespace: 'verbs', serviceAccountName: undefined, imagePullSecrets: ['a'], deadline: soon(),
    });

    // The fake refuses lists, watches and requests without the token with 403/401, which would surface here.
    assert.deepEqual(warnings, ['imagePullSecret verbs/a not found; resolving anonymously']);
    assert.equal(kube.requests() - before, 2);
  });
});

describe('kube credential source without a reachable API', () => {
  it('warns and resolves anonymously when the API refuses connections', async () => {
    const kube = await startFakeKube();
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kube.kubeconfigFile);
    await kube.stop();
    const source = createKubeCredentialSource({ kubeConfig });

    const { keyring, warnings } = await source.keyringFor({
      namespace: 'down', serviceAccountName: undefined, imagePullSecrets: ['regcred'], deadline: Date.now() + 3000,
    });

    assert.deepEqual(await keyring.lookup('127.0.0.1:5000/x', ANY_TIME), []);
    assert.deepEqual(warnings, [
      'imagePullSecret down/regcred could not be read (Kubernetes API: ECONNREFUSED); resolving anonymously',
      'service account down/default could not be read (Kubernetes API: ECONNREFUSED); resolving without its imagePullSecrets',
    ]);
  });

  it('refuses to start without any kubeconfig, naming the fix', () => {
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, config: process.env.KUBECONFIG };
    delete process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBECONFIG;
    try {
      assert.throws(() => createKubeCredentialSource(), {
        code: 'CONFIG_INVALID',
        message: 'no Kubernetes API to read pull secrets from: run inside a cluster or set KUBECONFIG',
      });
    } finally {
      if (saved.host !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.host;
      if (saved.config !== undefined) process.env.KUBECONFIG = saved.config;
    }
  });
});
