// config.workloads in the chart: custom kinds add webhook rules, presets agree with tagpin's own table, RBAC stays as it is.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/index.ts';
import { PRESETS, PRESET_NAMES } from '../../src/workload/index.ts';
import { field, helmTemplate, only, renderChart } from './render.ts';
import type { Rendered } from './render.ts';

type Json = Record<string, unknown>;

const TASK = { apiGroup: 'tekton.dev', kind: 'Task', resource: 'tasks', images: ['/spec/steps/*/image'] };

/** The rules of the one webhook of a configuration whose group is not one of Kubernetes' own. */
function customRules(r: readonly Rendered[], configuration: string): Json[] {
  const hooks = field(only(r, configuration), 'webhooks') as Json[];
  assert.equal(hooks.length, 1);
  return (hooks[0]?.['rules'] as Json[]).filter((rule) => !['', 'apps', 'batch'].includes((rule['apiGroups'] as string[])[0] ?? ''));
}

function ruleFor(apiGroup: string, resource: string, versions: readonly string[]): Json {
  return { apiGroups: [apiGroup], apiVersions: [...versions], operations: ['CREATE', 'UPDATE'], resources: [resource], scope: '*' };
}

describe('chart: custom resource kinds', () => {
  it('lets background audits list the custom kinds, and only with audit.enabled', () => {
    const workloads = { presets: ['argo-rollouts'], customKinds: [TASK] };
    const listRules = (audit: boolean): Json[] =>
      (field(only(renderChart({ values: { audit: { enabled: audit }, config: { workloads } } }), 'ClusterRole'), 'rules') as Json[]).filter(
        (rule) => ['argoproj.io', 'tekton.dev'].includes((rule['apiGroups'] as string[])[0] ?? ''),
      );
    assert.deepEqual(listRules(true), [
      { apiGroups: ['argoproj.io'], resources: ['rollouts'], verbs: ['list'] },
      { apiGroups: ['tekton.dev'], resources: ['tasks'], verbs: ['list'] },
    ]);
    assert.deepEqual(listRules(false), []);
  });

  it('adds no rule for custom kinds by default', () => {
    const r = renderChart();
    assert.deepEqual(customRules(r, 'MutatingWebhookConfiguration'), []);
    assert.deepEqual(customRules(r, 'ValidatingWebhookConfiguration'), []);
  });

  it("renders each preset's rule from the same group, resource and versions as tagpin's own preset table", () => {
    for (const name of PRESET_NAMES) {
      const r = renderChart({ values: { config: { workloads: { presets: [name] } } } });
      const expected = PRESETS[name].map((kind) => ruleFor(kind.apiGroup, kind.resource, kind.versions));
      assert.deepEqual(customRules(r, 'MutatingWebhookConfiguration'), expected, name);
      assert.deepEqual(customRules(r, 'ValidatingWebhookConfiguration'), expected, name);
    }
  });

  it('adds a rule per custom kind to both webhooks, every version unless versions says otherwise', () => {
    const values = { config: { workloads: { customKinds: [TASK, { ...TASK, kind: 'Pipeline', resource: 'pipelines', versions: ['v1', 'v1beta1'] }] } } };
    const r = renderChart({ values });
    const expected = [ruleFor('tekton.dev', 'tasks', ['*']), ruleFor('tekton.dev', 'pipelines', ['v1', 'v1beta1'])];
    assert.deepEqual(customRules(r, 'MutatingWebhookConfiguration'), expected);
    assert.deepEqual(customRules(r, 'ValidatingWebhookConfiguration'), expected);
  });

  it('mutates a custom kind only when mutate.kinds names it, once that list is set; validation covers it regardless', () => {
    const workloads = { presets: ['argo-rollouts', 'knative-serving'] };
    const pinned = renderChart({ values: { config: { workloads, mutate: { kinds: ['Deployment', 'Rollout'] } } } });
    assert.deepEqual(customRules(pinned, 'MutatingWebhookConfiguration'), [ruleFor('argoproj.io', 'rollouts', ['v1alpha1'])]);
    assert.equal(customRules(pinned, 'ValidatingWebhookConfiguration').length, 2);
  });

  it('refuses a mutate.kinds name that is neither built in nor a custom kind, and a kind named twice', () => {
    const unknown = helmTemplate({ values: { config: { mutate: { kinds: ['Rollout'] } } } });
    assert.notEqual(unknown.status, 0);
    assert.match(unknown.stderr, /config\.mutate\.kinds names Rollout, which is neither a built-in kind nor a kind of config\.workloads: add it under config\.workloads or remove it/);
    const twice = helmTemplate({ values: { config: { workloads: { customKinds: [TASK, { ...TASK, kind: 'ClusterTask' }] } } } });
    assert.notEqual(twice.status, 0);
    assert.match(twice.stderr, /config\.workloads names resource tasks of group tekton\.dev twice/);
  });

  it('hands tagpin a config it accepts, with the workloads as written', () => {
    const workloads = { presets: ['argo-rollouts'], customKinds: [TASK] };
    const config = parseConfig(String(field(only(renderChart({ values: { config: { workloads } } }), 'ConfigMap'), 'data', 'config.yaml')), 'ConfigMap');
    assert.deepEqual(config.workloads, { presets: ['argo-rollouts'], customKinds: [{ ...TASK, versions: ['*'], podSpecs: [] }] });
    assert.ok(config.mutate.kinds.includes('Rollout') && config.mutate.kinds.includes('Task'));
  });

  it('leaves the RBAC as it is: tagpin reads pull secrets and service accounts, never the custom resources', () => {
    const rbac = (r: readonly Rendered[]): unknown => field(only(r, 'ClusterRole'), 'rules');
    assert.deepEqual(rbac(renderChart({ values: { config: { workloads: { presets: [...PRESET_NAMES], customKinds: [TASK] } } } })), rbac(renderChart()));
  });
});
