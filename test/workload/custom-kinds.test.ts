// Custom kinds: found by API group, version and kind; pod-spec and image pointer patterns listed, patched and read for credentials.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PRESETS, getAtPointer, listImages, podSpecOf, pointerPatternProblem, workloadKinds } from '../../src/workload/index.ts';
import type { CustomKind, WorkloadsSpec } from '../../src/workload/index.ts';

const TASK: CustomKind = {
  apiGroup: 'tekton.dev',
  kind: 'Task',
  resource: 'tasks',
  versions: ['v1'],
  podSpecs: [],
  images: ['/spec/steps/*/image', '/spec/sidecars/*/image', '/spec/stepTemplate/image'],
};

const SETTINGS: WorkloadsSpec = { presets: ['argo-rollouts', 'knative-serving'], customKinds: [TASK] };

function rollout(spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name: 'web' }, spec: { replicas: 3, template: { spec } } };
}

describe('workloadKinds', () => {
  const kinds = workloadKinds(SETTINGS);

  it('finds built-in kinds by group, and by name alone only when the object has no apiVersion', () => {
    assert.equal(kinds.find('apps', 'v1', 'Deployment')?.builtIn, true);
    assert.equal(kinds.find('', 'v1', 'Pod')?.resource, 'pods');
    assert.equal(kinds.find(undefined, undefined, 'Deployment')?.apiGroup, 'apps');
    assert.equal(kinds.find('example.com', 'v1', 'Deployment'), undefined, 'a CRD named Deployment is not apps/Deployment');
  });

  it('finds a custom kind by its group and a listed version, never by its name alone', () => {
    assert.equal(kinds.find('argoproj.io', 'v1alpha1', 'Rollout')?.resource, 'rollouts');
    assert.equal(kinds.find('argoproj.io', 'v1', 'Rollout'), undefined, 'the preset lists v1alpha1 only');
    assert.equal(kinds.find(undefined, undefined, 'Rollout'), undefined);
    assert.equal(kinds.find('serving.knative.dev', 'v1', 'Service')?.kind, 'Service');
    assert.equal(kinds.find('', 'v1', 'Service'), undefined, 'a core Service is no Knative Service');
    assert.equal(kinds.find('tekton.dev', 'v1beta1', 'Task'), undefined);
    const everyVersion = workloadKinds({ presets: [], customKinds: [{ ...TASK, versions: ['*'] }] });
    assert.equal(everyVersion.find('tekton.dev', 'v1beta1', 'Task')?.kind, 'Task');
  });

  it("reads a manifest object's apiVersion", () => {
    assert.equal(kinds.ofObject(rollout({}))?.kind, 'Rollout');
    assert.equal(kinds.ofObject({ apiVersion: 'v1', kind: 'Service' }), undefined);
    assert.equal(kinds.ofObject({ apiVersion: 'serving.knative.dev/v1', kind: 'Service' })?.apiGroup, 'serving.knative.dev');
    assert.equal(kinds.ofObject({ kind: 'Pod' })?.kind, 'Pod');
    assert.equal(kinds.ofObject('Pod'), undefined);
  });

  it('lists the built-in kinds first, then presets in the order named, then customKinds', () => {
    assert.deepEqual(
      kinds.all.filter((k) => !k.builtIn).map((k) => `${k.apiGroup}/${k.kind}`),
      ['argoproj.io/Rollout', 'serving.knative.dev/Service', 'tekton.dev/Task'],
    );
    assert.equal(workloadKinds().all.length, 9);
    assert.equal(workloadKinds(SETTINGS), kinds, 'built once per settings object');
  });
});

describe('listImages of custom kinds', () => {
  const kinds = workloadKinds(SETTINGS);
  const rolloutKind = kinds.find('argoproj.io', 'v1alpha1', 'Rollout');
  const taskKind = kinds.find('tekton.dev', 'v1', 'Task');
  assert.ok(rolloutKind !== undefined && taskKind !== undefined);

  it('walks the pod spec of a Rollout like a Deployment: containers, init, ephemeral and image volumes', () => {
    const object = rollout({
      containers: [{ name: 'web', image: 'nginx:1.27' }, { name: 'later' }],
      initContainers: [{ name: 'init', image: 'busybox:1.36' }],
      volumes: [{ name: 'models', image: { reference: 'reg.local/models:v1' } }],
    });
    assert.deepEqual(listImages(rolloutKind, object), [
      { path: '/spec/template/spec/containers/0/image', value: 'nginx:1.27', slot: 'containers', name: 'web' },
      { path: '/spec/template/spec/initContainers/0/image', value: 'busybox:1.36', slot: 'initContainers', name: 'init' },
      { path: '/spec/template/spec/volumes/0/image/reference', value: 'reg.local/models:v1', slot: 'volumes', name: 'models' },
    ]);
  });

  it('follows image patterns through every array index, in document order, naming the item beside the image', () => {
    const task = {
      apiVersion: 'tekton.dev/v1',
      kind: 'Task',
      spec: {
        steps: [{ name: 'build', image: 'golang:1.23' }, { name: 'no-image' }, { name: 'test', image: 42 }],
        sidecars: [{ image: 'docker:dind' }],
        stepTemplate: { image: 'alpine:3' },
      },
    };
    assert.deepEqual(listImages(taskKind, task), [
      { path: '/spec/steps/0/image', value: 'golang:1.23', slot: 'pattern', name: 'build' },
      { path: '/spec/steps/2/image', value: 42, slot: 'pattern', name: 'test' },
      { path: '/spec/sidecars/0/image', value: 'docker:dind', slot: 'pattern' },
      { path: '/spec/stepTemplate/image', value: 'alpine:3', slot: 'pattern' },
    ]);
  });

  it('lists a field once when a pattern and a pod spec both reach it', () => {
    const both = { ...TASK, podSpecs: ['/spec/pod'], images: ['/spec/pod/containers/*/image', '/spec/images/*'] };
    const kind = workloadKinds({ presets: [], customKinds: [both] }).find('tekton.dev', 'v1', 'Task');
    assert.ok(kind !== undefined);
    const object = { spec: { pod: { containers: [{ name: 'a', image: 'x:1' }] }, images: ['y:1', 'z:1'] } };
    assert.deepEqual(
      listImages(kind, object).map((f) => `${f.path} ${f.slot}`),
      ['/spec/pod/containers/0/image containers', '/spec/images/0 pattern', '/spec/images/1 pattern'],
    );
  });

  it('escapes keys in the pointers it returns, and * matches array indexes only', () => {
    const odd = { ...TASK, images: ['/spec/a~1b/*/image', '/spec/map/*/image'] };
    const kind = workloadKinds({ presets: [], customKinds: [odd] }).find('tekton.dev', 'v1', 'Task');
    assert.ok(kind !== undefined);
    const object = { spec: { 'a/b': [{ image: 'x:1' }], map: { first: { image: 'not-an-index:1' } } } };
    assert.deepEqual(listImages(kind, object).map((f) => f.path), ['/spec/a~1b/0/image']);
  });

  it('returns pointers that read back the listed value, and never throws, for any JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (spec) => {
        for (const kind of [rolloutKind, taskKind]) {
          const object = { spec: { template: { spec }, steps: spec, sidecars: [spec], stepTemplate: spec } };
          for (const f of listImages(kind, object)) assert.deepEqual(getAtPointer(object, f.path), f.value);
        }
      }),
    );
  });
});

describe('podSpecOf custom kinds', () => {
  const kinds = workloadKinds(SETTINGS);

  it("reads a Rollout's service account and pull secrets from its pod spec", () => {
    const kind = kinds.find('argoproj.io', 'v1alpha1', 'Rollout');
    assert.ok(kind !== undefined);
    const object = rollout({ serviceAccountName: 'deployer', imagePullSecrets: [{ name: 'regcred' }], containers: [] });
    assert.deepEqual(podSpecOf(kind, object), { serviceAccountName: 'deployer', imagePullSecrets: ['regcred'] });
  });

  it('takes the first service account and every pull secret of several pod specs', () => {
    const jobs = { ...TASK, podSpecs: ['/spec/replicas/*/template/spec'], images: [] };
    const kind = workloadKinds({ presets: [], customKinds: [jobs] }).find('tekton.dev', 'v1', 'Task');
    assert.ok(kind !== undefined);
    const spec = (extra: Record<string, unknown>): unknown => ({ template: { spec: { containers: [], ...extra } } });
    const object = { spec: { replicas: [spec({ imagePullSecrets: [{ name: 'a' }] }), spec({ serviceAccountName: 'second', imagePullSecrets: [{ name: 'b' }, { name: 'a' }] }), spec({ serviceAccountName: 'third' })] } };
    assert.deepEqual(podSpecOf(kind, object), { serviceAccountName: 'second', imagePullSecrets: ['a', 'b'] });
  });

  it('has no service account or pull secrets for a kind with image patterns only (the namespace default is used)', () => {
    const kind = kinds.find('tekton.dev', 'v1', 'Task');
    assert.ok(kind !== undefined);
    assert.deepEqual(podSpecOf(kind, { spec: { serviceAccountName: 'x', steps: [{ image: 'a' }] } }), { serviceAccountName: undefined, imagePullSecrets: [] });
  });
});

describe('pointerPatternProblem', () => {
  it('accepts pointers with * segments', () => {
    for (const ok of ['/spec/template/spec', '/spec/steps/*/image', '/spec/images/*', '/spec/a~0b/c~1d']) assert.equal(pointerPatternProblem(ok), undefined, ok);
  });

  it('says what is wrong with a pattern that is not one', () => {
    assert.equal(pointerPatternProblem('spec/template'), 'must start with "/"');
    assert.match(pointerPatternProblem('/spec//image') ?? '', /empty segment/);
    assert.match(pointerPatternProblem('/spec/') ?? '', /empty segment/);
    assert.match(pointerPatternProblem('/spec/~2') ?? '', /"~" not followed by 0 or 1/);
    assert.match(pointerPatternProblem('/spec/steps*/image') ?? '', /"\*" inside the segment "steps\*"/);
  });

  it('accepts every preset', () => {
    for (const kind of Object.values(PRESETS).flat()) for (const p of [...kind.podSpecs, ...kind.images]) assert.equal(pointerPatternProblem(p), undefined);
  });
});
