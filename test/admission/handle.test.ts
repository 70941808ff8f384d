// The admission core in process, against the real registry: configuration switches, the UPDATE rule, and adapters that misbehave.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { handleReview, keptPinnedValue } from '../../src/admission/index.ts';
import type { AdmissionDeps, PullCredentialRequest, PullCredentialSource, ReviewOutcome } from '../../src/admission/index.ts';
import { parseConfig } from '../../src/config/index.ts';
import { emptyKeyring } from '../../src/credentials/index.ts';
import { createRegistryClient } from '../../src/registry/index.ts';
import type { Resolver } from '../../src/registry/index.ts';
import { startAppRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { deployment, pod } from '../support/objects.ts';
import { admissionReview } from '../support/reviews.ts';
import type { ReviewFields } from '../support/reviews.ts';

const DIGEST = `sha256:${'c'.repeat(64)}`;

describe('handleReview', () => {
  let registry: TestRegistry;
  let resolver: Resolver;
  let digest: string;
  let image: string;

  before(async () => {
    ({ registry, image, digest } = await startAppRegistry());
    resolver = createRegistryClient({ insecure: [registry.host] });
  });
  const colds: Resolver[] = [];
  after(async () => {
    await resolver?.close();
    for (const each of colds) await each.close();
    await registry?.stop();
  });

  /** A client of its own, whose cache holds nothing yet: every image of the test is looked up. */
  function cold(): Resolver {
    const fresh = createRegistryClient({ insecure: [registry.host] });
    colds.push(fresh);
    return fresh;
  }

  function deps(yaml: string, extra: Partial<AdmissionDeps> = {}): AdmissionDeps {
    return { config: parseConfig(`registries:\n  insecure: ["${registry.host}"]\n${yaml}`, 'test.yaml'), resolver, keyring: emptyKeyring, ...extra };
  }

  async function mutate(d: AdmissionDeps, fields: ReviewFields): Promise<Extract<ReviewOutcome, { status: 200 }>> {
    const outcome = await handleReview('mutate', admissionReview(fields), d, Date.now());
    assert.equal(outcome.status, 200);
    return outcome;
  }

  function patchOf(outcome: Extract<ReviewOutcome, { status: 200 }>): unknown {
    const patch = outcome.body.response.patch;
    return patch === undefined ? [] : JSON.parse(Buffer.from(patch, 'base64').toString('utf8'));
  }

  it('writes digest-only output when mutate.output is digest', async () => {
    const outcome = await mutate(deps('mutate:\n  output: digest\n'), { object: pod([image]) });
    assert.deepEqual(patchOf(outcome), [{ op: 'replace', path: '/spec/containers/0/image', value: `${registry.host}/demo/app@${digest}` }]);
  });

  it('patches nothing when mutate.enabled is false, and says why in the audit record', async () => {
    const outcome = await mutate(deps('mutate:\n  enabled: false\n'), { object: pod([image]) });
    assert.equal(outcome.body.response.patch, undefined);
    assert.equal(outcome.audit.decision, 'allowed');
    assert.deepEqual(outcome.audit.images, [{ path: '/spec/containers/0/image', image, verdict: 'excluded', reason: 'mutate.enabled is false' }]);
  });

  it('leaves kinds outside mutate.kinds alone', async () => {
    const outcome = await mutate(deps('mutate:\n  kinds: [Deployment]\n'), { object: pod([image]) });
    assert.equal(outcome.body.response.patch, undefined);
    assert.equal(outcome.audit.images[0]?.reason, 'kind Pod is not in mutate.kinds');
  });

  it('skips empty images, which workload templates may leave for a controller to fill', async () => {
    const outcome = await mutate(deps(''), { object: pod(['', image]) });
    assert.deepEqual(outcome.audit.images.map((i) => i.path), ['/spec/containers/1/image']);
  });

  it('admits DELETE and CONNECT without looking at images', async () => {
    for (const operation of ['DELETE', 'CONNECT'] as const) {
      const outcome = await mutate(deps(''), { operation, kind: 'Pod', oldObject: pod([image]) });
      assert.equal(outcome.body.response.allowed, true);
      assert.deepEqual(outcome.audit.images, []);
    }
  });

  it('with digest output, re-resolves an UPDATE whose old value lost the tag (the tag cannot be compared)', async () => {
    const outcome = await mutate(deps('mutate:\n  output: digest\n'), {
      operation: 'UPDATE',
      object: pod([image]),
      oldObject: pod([`${registry.host}/demo/app@${DIGEST}`]),
    });
    assert.deepEqual(patchOf(outcome), [{ op: 'replace', path: '/spec/containers/0/image', value: `${registry.host}/demo/app@${digest}` }]);
  });

  it('passes the namespace, service account and pull secrets of the pod spec to the credential source', async () => {
    const seen: PullCredentialRequest[] = [];
    const source: PullCredentialSource = {
      keyringFor: async (request) => {
        seen.push(request);
        return { keyring: emptyKeyring, warnings: [] };
      },
    };
    const object = deployment([image], { namespace: 'team-x', spec: { serviceAccountName: 'builder', imagePullSecrets: [{ name: 'one' }, { name: 'two' }] } });
    // The request "arrived" at a fixed instant, so the deadline handed on can be judged exactly against it.
    const arrived = Date.now();
    const outcome = await handleReview('mutate', admissionReview({ object, namespace: 'team-x' }), deps('resolve:\n  timeoutMs: 4000\n', { credentials: source, resolver: cold() }), arrived);
    assert.equal(outcome.status, 200);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.namespace, 'team-x');
    assert.equal(seen[0]?.serviceAccountName, 'builder');
    assert.deepEqual(seen[0]?.imagePullSecrets, ['one', 'two']);
    // The Kubernetes API gets a share of the budget, not all of it.
    const deadline = seen[0]?.deadline ?? Number.NaN;
    assert.ok(deadline > arrived && deadline < arrived + 4000, `deadline ${String(deadline - arrived)} ms after arrival, of a 4000 ms budget`);
  });

  it('answers images whose digest was learned anonymously from the cache, without reading pull secrets', async () => {
    const resolver = cold();
    let asked = 0;
    const source: PullCredentialSource = {
      keyringFor: async () => {
        asked++;
        return { keyring: emptyKeyring, warnings: [] };
      },
    };
    const first = await mutate(deps('', { credentials: source, resolver }), { object: pod([image]) });
    const before = registry.manifestRequests().length;
    const second = await mutate(deps('', { credentials: source, resolver }), { object: pod([image]) });
    assert.equal(asked, 1, 'the first admission read the pull secrets, the second did not need them');
    assert.equal(registry.manifestRequests().length, before, 'nor the registry');
    assert.deepEqual(patchOf(second), patchOf(first));
    assert.deepEqual(patchOf(second), [{ op: 'replace', path: '/spec/containers/0/image', value: `${image}@${digest}` }]);
  });

  it('does not ask for credentials when nothing needs a lookup', async () => {
    let asked = 0;
    const source: PullCredentialSource = {
      keyringFor: async () => {
        asked++;
        return { keyring: emptyKeyring, warnings: [] };
      },
    };
    await mutate(deps('', { credentials: source }), { object: pod([`${image}@${DIGEST}`]) });
    assert.equal(asked, 0);
  });

  it('goes on without pull secrets when the credential source does not answer in time', async () => {
    const source: PullCredentialSource = { keyringFor: () => new Promise(() => undefined) };
    const outcome = await mutate(deps('resolve:\n  timeoutMs: 800\n', { credentials: source, resolver: cold() }), { object: pod([image]) });
    assert.deepEqual(patchOf(outcome), [{ op: 'replace', path: '/spec/containers/0/image', value: `${image}@${digest}` }]);
    assert.deepEqual(outcome.body.response.warnings, ['pull secrets not read in time; resolving without them']);
  });

  it('turns a failure inside tagpin into a decision per resolve.onError, never an exception', async () => {
    const broken: PullCredentialSource = {
      keyringFor: () => {
        throw new Error('boom');
      },
    };
    const denied = await mutate(deps('', { credentials: broken, resolver: cold() }), { object: pod([image]), uid: 'bug-1' });
    assert.equal(denied.body.response.allowed, false);
    // A bug's own message stays in the log (internalError); the user is told where to look.
    assert.equal(denied.body.response.status?.message, 'tagpin failed to process this request: an internal error, logged by tagpin with uid bug-1');
    assert.ok(denied.internalError instanceof Error && denied.internalError.message === 'boom');
    const allowed = await mutate(deps('resolve:\n  onError: allow\n', { credentials: broken, resolver: cold() }), { object: pod([image]), uid: 'bug-2' });
    assert.equal(allowed.body.response.allowed, true);
    assert.deepEqual(allowed.body.response.warnings, ['tagpin failed to process this request: an internal error, logged by tagpin with uid bug-2']);
  });

  it('answers a bug thrown after the decision (while encoding it) by the failure path too', async () => {
    // With nothing to look up, `now` is first read once the decision is made (the audit duration):
    // throwing there is a bug in encoding the answer.
    const now = (): number => {
      throw new TypeError('clock broke');
    };
    const outcome = await mutate(deps('', { now }), { object: pod([`${image}@${DIGEST}`]), uid: 'bug-3' });
    assert.equal(outcome.body.response.allowed, false, 'onError deny: fail closed');
    assert.equal(outcome.body.response.uid, 'bug-3');
    assert.ok(outcome.internalError instanceof TypeError);
  });

  it('counts each failed lookup through the observer with its registry and code', async () => {
    const errors: Array<{ registry: string; code: string }> = [];
    await mutate(deps('', { observer: { onResolveError: (e) => errors.push(e) } }), { object: pod([`${registry.host}/demo/missing:v1`]) });
    assert.deepEqual(errors, [{ registry: registry.host, code: 'REGISTRY_NOT_FOUND' }]);
  });

  it('answers malformed input with status 400 instead of throwing', async () => {
    const outcome = await handleReview('validate', { kind: 'AdmissionReview' }, deps(''), Date.now());
    assert.equal(outcome.status, 400);
  });
});

describe('keptPinnedValue (the UPDATE rule)', () => {
  it('keeps the old value when it is exactly the new value plus a digest', () => {
    assert.equal(keptPinnedValue(`nginx:1.27@${DIGEST}`, 'nginx:1.27'), `nginx:1.27@${DIGEST}`);
    assert.equal(keptPinnedValue(`nginx@${DIGEST}`, 'nginx'), `nginx@${DIGEST}`);
  });

  it('does not keep it when the tag, the name or the spelling differs', () => {
    assert.equal(keptPinnedValue(`nginx:1.26@${DIGEST}`, 'nginx:1.27'), undefined);
    assert.equal(keptPinnedValue(`docker.io/library/nginx:1.27@${DIGEST}`, 'nginx:1.27'), undefined);
    assert.equal(keptPinnedValue(`nginx@${DIGEST}`, 'nginx:1.27'), undefined);
  });

  it('does not keep values that are not pinned references', () => {
    assert.equal(keptPinnedValue('nginx:1.27', 'nginx:1.27'), undefined);
    assert.equal(keptPinnedValue('nginx:1.27@sha256:short', 'nginx:1.27'), undefined);
    assert.equal(keptPinnedValue(42, 'nginx:1.27'), undefined);
    assert.equal(keptPinnedValue(undefined, 'nginx:1.27'), undefined);
  });
});
