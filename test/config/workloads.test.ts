// Config: workloads (presets and custom kinds) and the kind names mutate.kinds may use, with one-line errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_CONFIG, parseConfig, SUPPORTED_KINDS } from '../../src/config/index.ts';
import { ConfigError } from '../../src/errors/index.ts';

function rejects(text: string, message: string | RegExp): void {
  assert.throws(
    () => parseConfig(text, 'x.yaml'),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
      assert.ok(!err.message.includes('\n'), `message is one line: ${err.message}`);
      if (typeof message === 'string') assert.equal(err.message, message);
      else assert.match(err.message, message);
      return true;
    },
  );
}

const TASK = '{apiGroup: tekton.dev, kind: Task, resource: tasks, images: [/spec/steps/*/image]}';

describe('config workloads', () => {
  it('defaults to no presets and no custom kinds', () => {
    assert.deepEqual(DEFAULT_CONFIG.workloads, { presets: [], customKinds: [] });
  });

  it('reads presets and custom kinds, filling versions, podSpecs and images', () => {
    const config = parseConfig(`workloads:\n  presets: [argo-rollouts, knative-serving]\n  customKinds:\n    - ${TASK}\n`, 'x.yaml');
    assert.deepEqual(config.workloads.presets, ['argo-rollouts', 'knative-serving']);
    assert.deepEqual(config.workloads.customKinds, [
      { apiGroup: 'tekton.dev', kind: 'Task', resource: 'tasks', versions: ['*'], podSpecs: [], images: ['/spec/steps/*/image'] },
    ]);
  });

  it('pins every kind, built-in and custom, when mutate.kinds is not set', () => {
    const config = parseConfig(`workloads:\n  presets: [argo-rollouts, knative-serving]\n  customKinds: [${TASK}]\n`, 'x.yaml');
    assert.deepEqual(config.mutate.kinds, [...SUPPORTED_KINDS, 'Rollout', 'Service', 'Task']);
  });

  it('pins only the kinds mutate.kinds names once it is set, custom ones included', () => {
    const config = parseConfig('mutate: {kinds: [Deployment, Rollout]}\nworkloads: {presets: [argo-rollouts, knative-serving]}\n', 'x.yaml');
    assert.deepEqual(config.mutate.kinds, ['Deployment', 'Rollout']);
  });

  it('refuses a mutate.kinds name that no kind has, listing the known ones', () => {
    rejects('mutate: {kinds: [Pod, Rollout]}', /^config x\.yaml: mutate\.kinds\[1\] must be one of Pod, .*, CronJob, or a kind added under workloads \(got "Rollout"\)$/);
    rejects('mutate: {kinds: [pod]}', 'config x.yaml: mutate.kinds[0] must be a kind name such as Deployment or Rollout: a capital letter, then letters and digits (got "pod")');
  });

  it('refuses a preset tagpin does not ship', () => {
    rejects('workloads: {presets: [flux]}', 'config x.yaml: workloads.presets[0] must be one of argo-rollouts, knative-serving (got "flux")');
  });

  it('refuses a custom kind with a missing or bad field, one line naming the field, the rule and the fix', () => {
    const at = (entry: string): string => `workloads:\n  customKinds:\n    - ${entry}\n`;
    rejects(at('{kind: Task, resource: tasks, images: [/spec/x]}'), 'config x.yaml: workloads.customKinds[0].apiGroup is missing: the API group of the CustomResourceDefinition, e.g. argoproj.io');
    rejects(at('{apiGroup: tekton.dev, kind: Task, images: [/spec/x]}'), /^config x\.yaml: workloads\.customKinds\[0\]\.resource is missing: the plural resource name the webhook rules match \(the CRD's spec\.names\.plural\), e\.g\. rollouts$/);
    rejects(at('{apiGroup: apps, kind: Deployment, resource: deployments, podSpecs: [/spec]}'), /^config x\.yaml: workloads\.customKinds\[0\]\.apiGroup must be the API group of a CustomResourceDefinition: a lowercase DNS name with at least one dot, like argoproj\.io \(got "apps"\); built-in kinds need no entry$/);
    rejects(at('{apiGroup: tekton.dev, kind: task, resource: tasks, images: [/spec/x]}'), /workloads\.customKinds\[0\]\.kind must be a kind name/);
    rejects(at('{apiGroup: tekton.dev, kind: Task, resource: Tasks, images: [/spec/x]}'), /workloads\.customKinds\[0\]\.resource must be the plural resource name in lowercase, like rollouts/);
    rejects(at('{apiGroup: tekton.dev, kind: Task, resource: tasks, versions: [], images: [/spec/x]}'), /workloads\.customKinds\[0\]\.versions must not be empty/);
    rejects(at('{apiGroup: tekton.dev, kind: Task, resource: tasks, versions: [V1], images: [/spec/x]}'), /workloads\.customKinds\[0\]\.versions\[0\] must be a version such as v1 or v1alpha1, or \* for every version \(got "V1"\)/);
    rejects(at('{apiGroup: tekton.dev, kind: Task, resource: tasks}'), /^config x\.yaml: workloads\.customKinds\[0\] needs podSpecs or images: the JSON pointers \(with \* for every array index\) of its pod specs or image fields, e\.g\. podSpecs: \[\/spec\/template\/spec\]$/);
    rejects(at('{apiGroup: tekton.dev, kind: Task, resource: tasks, podSpec: [/spec]}'), /unknown key workloads\.customKinds\[0\]\.podSpec \(did you mean workloads\.customKinds\[0\]\.podSpecs\?\)/);
    rejects(at('Task'), 'config x.yaml: workloads.customKinds[0] must be a mapping (got "Task")');
  });

  it('refuses a pointer pattern that is not one, saying why', () => {
    const withImages = (pattern: string): string => `workloads: {customKinds: [{apiGroup: tekton.dev, kind: Task, resource: tasks, images: ["${pattern}"]}]}`;
    rejects(withImages('spec/steps/*/image'), 'config x.yaml: workloads.customKinds[0].images[0] must be a JSON pointer such as /spec/template/spec or /spec/steps/*/image: it must start with "/" (got "spec/steps/*/image")');
    rejects(withImages('/spec/steps[*]/image'), /images\[0\] must be a JSON pointer .*: it has "\*" inside the segment "steps\[\*\]"; "\*" stands alone for every array index/);
    rejects(withImages('/spec//image'), /images\[0\] must be a JSON pointer .*: it has an empty segment/);
    rejects('workloads: {customKinds: [{apiGroup: tekton.dev, kind: Task, resource: tasks, podSpecs: ["/spec/~x"]}]}', /podSpecs\[0\] must be a JSON pointer .*"~" not followed by 0 or 1/);
  });

  it('refuses a kind or resource named twice, naming both places', () => {
    rejects(
      'workloads:\n  presets: [argo-rollouts]\n  customKinds: [{apiGroup: argoproj.io, kind: Rollout, resource: rollouts, podSpecs: [/spec/template/spec]}]\n',
      'config x.yaml: workloads.customKinds[0] repeats kind Rollout of group argoproj.io, already named by workloads.presets[0] (argo-rollouts); keep one of them',
    );
    rejects('workloads: {presets: [knative-serving, knative-serving]}', /^config x\.yaml: workloads\.presets\[1\] \(knative-serving\) repeats kind Service of group serving\.knative\.dev, already named by workloads\.presets\[0\] \(knative-serving\); keep one of them$/);
    rejects(`workloads: {customKinds: [${TASK}, {apiGroup: tekton.dev, kind: ClusterTask, resource: tasks, images: [/spec/x]}]}`, /workloads\.customKinds\[1\] repeats resource tasks of group tekton\.dev, already named by workloads\.customKinds\[0\]/);
  });
});
