// The admission core on custom resources (workloads presets and customKinds), against the real registry.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { handleReview } from '../../src/admission/index.ts';
import type { AdmissionDeps, PullCredentialRequest, PullCredentialSource, ReviewOutcome } from '../../src/admission/index.ts';
import { parseConfig } from '../../src/config/index.ts';
import { emptyKeyring } from '../../src/credentials/index.ts';
import { createRegistryClient } from '../../src/registry/index.ts';
import type { Resolver } from '../../src/registry/index.ts';
import { startAppRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { knativeService, rollout } from '../support/objects.ts';
import { admissionReview } from '../support/reviews.ts';
import type { ReviewFields } from '../support/reviews.ts';

type Answer = Extract<ReviewOutcome, { status: 200 }>;

const WORKLOADS = `workloads:
  presets: [argo-rollouts, knative-serving]
  customKinds:
    - {apiGroup: tekton.dev, kind: Task, resource: tasks, versions: [v1], images: [/spec/steps/*/image]}
`;

describe('admission of custom resources', () => {
  let registry: TestRegistry;
  let resolvers: Resolver[];
  let digest: string;
  let image: string;

  before(async () => {
    ({ registry, image, digest } = await startAppRegistry());
    resolvers = [];
  });
  after(async () => {
    for (const each of resolvers) await each.close();
    await registry?.stop();
  });

  /** Deps with a client of their own, so every test looks its images up (and reads pull credentials). */
  function deps(yaml: string, credentials?: PullCredentialSource): AdmissionDeps {
    const resolver = createRegistryClient({ insecure: [registry.host] });
    resolvers.push(resolver);
    const config = parseConfig(`registries:\n  insecure: ["${registry.host}"]\n${yaml}`, 'test.yaml');
    return { config, resolver, keyring: emptyKeyring, ...(credentials === undefined ? {} : { credentials }) };
  }

  async function review(webhook: 'mutate' | 'validate', d: AdmissionDeps, fields: ReviewFields): Promise<Answer> {
    const outcome = await handleReview(webhook, admissionReview(fields), d, Date.now());
    assert.equal(outcome.status, 200);
    return outcome;
  }

  function patchOf(outcome: Answer): unknown {
    const patch = outcome.body.response.patch;
    return patch === undefined ? [] : JSON.parse(Buffer.from(patch, 'base64').toString('utf8'));
  }

  it('pins the pod template of an Argo Rollout to the digest the registry reported', async () => {
    const outcome = await review('mutate', deps(WORKLOADS), { object: rollout([image]) });
    assert.deepEqual(patchOf(outcome), [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: `${image}@${digest}` }]);
    assert.equal(outcome.audit.kind, 'Rollout');
    assert.equal(outcome.audit.decision, 'patched');
  });

  it('pins a Knative Service, and leaves a core Service of the same kind name alone', async () => {
    const d = deps(WORKLOADS);
    const knative = await review('mutate', d, { object: knativeService([image]) });
    assert.deepEqual(patchOf(knative), [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: `${image}@${digest}` }]);
    const core = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'hello', namespace: 'demo' }, spec: { template: { spec: { containers: [{ image }] } } } };
    const untouched = await review('mutate', d, { object: core });
    assert.equal(untouched.body.response.patch, undefined);
    assert.deepEqual(untouched.body.response.warnings, ['tagpin does not read images of kind Service; admitted unchanged']);
  });

  it('pins the fields an image pattern names', async () => {
    const task = { apiVersion: 'tekton.dev/v1', kind: 'Task', metadata: { name: 'build', namespace: 'demo' }, spec: { steps: [{ name: 'compile', image }, { name: 'script', script: 'true' }, { name: 'test', image }] } };
    const outcome = await review('mutate', deps(WORKLOADS), { object: task });
    assert.deepEqual(patchOf(outcome), [
      { op: 'replace', path: '/spec/steps/0/image', value: `${image}@${digest}` },
      { op: 'replace', path: '/spec/steps/2/image', value: `${image}@${digest}` },
    ]);
  });

  it('asks for the pull credentials of the pod spec of a Rollout, and of the default service account for image patterns', async () => {
    const asked: PullCredentialRequest[] = [];
    const source: PullCredentialSource = {
      keyringFor: (request) => {
        asked.push(request);
        return Promise.resolve({ keyring: emptyKeyring, warnings: [] });
      },
    };
    const spec = { serviceAccountName: 'deployer', imagePullSecrets: [{ name: 'regcred' }] };
    await review('mutate', deps(WORKLOADS, source), { object: rollout([image], { namespace: 'team-x', spec }) });
    const task = { apiVersion: 'tekton.dev/v1', kind: 'Task', metadata: { name: 'build', namespace: 'team-y' }, spec: { serviceAccountName: 'not-a-pod-spec', steps: [{ image }] } };
    await review('mutate', deps(WORKLOADS, source), { object: task });
    assert.deepEqual(
      asked.map((r) => [r.namespace, r.serviceAccountName, r.imagePullSecrets]),
      [
        ['team-x', 'deployer', ['regcred']],
        ['team-y', undefined, []],
      ],
    );
  });

  it('leaves a custom kind alone when mutate.kinds does not name it, and a version the entry does not list', async () => {
    const excluded = await review('mutate', deps(`${WORKLOADS}mutate: {kinds: [Deployment, Service]}\n`), { object: rollout([image]) });
    assert.equal(excluded.body.response.patch, undefined);
    assert.equal(excluded.audit.images[0]?.reason, 'kind Rollout is not in mutate.kinds');
    const other = { ...rollout([image]), apiVersion: 'argoproj.io/v1' };
    const unlisted = await review('mutate', deps(WORKLOADS), { object: other });
    assert.equal(unlisted.body.response.patch, undefined);
    assert.deepEqual(unlisted.body.response.warnings, ['tagpin does not read images of kind Rollout.argoproj.io; admitted unchanged']);
  });

  it('reads no custom kind without workloads: a Rollout is admitted unchanged with a warning', async () => {
    const outcome = await review('mutate', deps(''), { object: rollout([image]) });
    assert.equal(outcome.body.response.patch, undefined);
    assert.deepEqual(outcome.body.response.warnings, ['tagpin does not read images of kind Rollout.argoproj.io; admitted unchanged']);
  });

  it('denies a Rollout whose image is :latest at /validate, naming its path', async () => {
    const outcome = await review('validate', deps(WORKLOADS), { object: rollout([`${registry.host}/demo/app:latest`]) });
    assert.equal(outcome.body.response.allowed, false);
    assert.match(outcome.body.response.status?.message ?? '', /\/spec\/template\/spec\/containers\/0\/image ".*demo\/app:latest": tag latest is mutable/);
  });

  it('pins only the new image on an UPDATE of a Rollout and keeps a pinned one', async () => {
    const old = rollout([`${image}@${digest}`, image]);
    const changed = rollout([image, image]);
    const outcome = await review('mutate', deps(WORKLOADS), { operation: 'UPDATE', object: changed, oldObject: old });
    assert.deepEqual(
      outcome.audit.images.map((i) => [i.path, i.verdict]),
      [
        ['/spec/template/spec/containers/0/image', 'kept'],
        ['/spec/template/spec/containers/1/image', 'unchanged'],
      ],
    );
  });
});
