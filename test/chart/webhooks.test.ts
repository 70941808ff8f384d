// The webhook configurations the chart renders: what the API server sends tagpin, where, and how long it waits.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/index.ts';
import { all, field, helmTemplate, only, renderChart } from './render.ts';
import type { KubeObject, Rendered } from './render.ts';

type Json = Record<string, unknown>;

interface Expression {
  readonly key: string;
  readonly operator: string;
  readonly values?: readonly string[];
}

/** The one webhook of a configuration (the chart registers one per configuration). */
function webhookOf(configuration: KubeObject): Json {
  const hooks = configuration.webhooks as Json[];
  assert.equal(hooks.length, 1);
  return hooks[0] as Json;
}

function mutating(r: readonly Rendered[]): Json {
  return webhookOf(only(r, 'MutatingWebhookConfiguration'));
}

function validating(r: readonly Rendered[]): Json {
  return webhookOf(only(r, 'ValidatingWebhookConfiguration'));
}

/** Evaluates a namespaceSelector the way the API server does, for a namespace with `labels`. */
function admits(webhook: Json, namespace: string, labels: Readonly<Record<string, string>> = {}): boolean {
  const withName: Readonly<Record<string, string>> = { ...labels, 'kubernetes.io/metadata.name': namespace };
  const selector = webhook.namespaceSelector as { matchLabels?: Record<string, string>; matchExpressions?: Expression[] };
  const labelsOk = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => withName[k] === v);
  const expressionsOk = (selector.matchExpressions ?? []).every((e) => {
    const value = withName[e.key];
    switch (e.operator) {
      case 'In':
        return value !== undefined && (e.values ?? []).includes(value);
      case 'NotIn':
        return value === undefined || !(e.values ?? []).includes(value);
      case 'Exists':
        return value !== undefined;
      case 'DoesNotExist':
        return value === undefined;
      default:
        throw new Error(`unknown operator ${e.operator}`);
    }
  });
  return labelsOk && expressionsOk;
}

/** `group/resource` → operations, over all rules of a webhook. */
function coverage(webhook: Json): Map<string, string[]> {
  const covered = new Map<string, string[]>();
  for (const rule of webhook.rules as Json[]) {
    assert.deepEqual(rule.apiVersions, ['v1']);
    assert.equal(rule.scope, 'Namespaced');
    for (const group of rule.apiGroups as string[]) {
      for (const resource of rule.resources as string[]) covered.set(`${group}/${resource}`, rule.operations as string[]);
    }
  }
  return covered;
}

const EVERY_RESOURCE = [
  '/pods',
  '/pods/ephemeralcontainers',
  '/podtemplates',
  '/replicationcontrollers',
  'apps/deployments',
  'apps/replicasets',
  'apps/statefulsets',
  'apps/daemonsets',
  'batch/jobs',
  'batch/cronjobs',
];

function timeoutMsOf(r: readonly Rendered[]): number {
  return parseConfig(String(field(only(r, 'ConfigMap'), 'data', 'config.yaml')), 'ConfigMap').resolve.timeoutMs;
}

describe('webhook configurations by default', () => {
  const r = renderChart();

  it('register both webhooks with AdmissionReview v1, no side effects, 10 s and failurePolicy Fail', () => {
    for (const webhook of [mutating(r), validating(r)]) {
      assert.deepEqual(webhook.admissionReviewVersions, ['v1']);
      assert.equal(webhook.sideEffects, 'None', 'dry-run requests (Argo CD diffs) must be allowed through');
      assert.equal(webhook.timeoutSeconds, 10);
      assert.equal(webhook.failurePolicy, 'Fail');
      assert.equal(webhook.matchPolicy, 'Equivalent');
    }
  });

  it('call /mutate and /validate on the chart Service, port 443', () => {
    const service = only(r, 'Service');
    const base = { name: service.metadata.name, namespace: 'tagpin', port: 443 };
    assert.deepEqual(field(mutating(r), 'clientConfig', 'service'), { ...base, path: '/mutate' });
    assert.deepEqual(field(validating(r), 'clientConfig', 'service'), { ...base, path: '/validate' });
    assert.equal(field(mutating(r), 'clientConfig', 'url'), undefined, 'no webhooks.url, no clientConfig.url');
  });

  it('re-run the mutating webhook when later webhooks inject containers', () => {
    assert.equal(mutating(r).reinvocationPolicy, 'IfNeeded');
  });

  it('cover every kind, pods/ephemeralcontainers included, on CREATE and UPDATE', () => {
    for (const webhook of [mutating(r), validating(r)]) {
      const covered = coverage(webhook);
      assert.deepEqual([...covered.keys()].sort(), [...EVERY_RESOURCE].sort());
      for (const operations of covered.values()) assert.deepEqual(operations, ['CREATE', 'UPDATE']);
    }
  });

  it('skip the control plane namespaces and the release namespace, by their kubernetes.io/metadata.name label', () => {
    for (const webhook of [mutating(r), validating(r)]) {
      assert.equal(admits(webhook, 'kube-system'), false);
      assert.equal(admits(webhook, 'kube-node-lease'), false, 'node heartbeats never wait on tagpin');
      assert.equal(admits(webhook, 'kube-public'), false);
      assert.equal(admits(webhook, 'tagpin'), false, 'tagpin never waits on itself');
      assert.equal(admits(webhook, 'cert-manager'), true, 'cert-manager is special only when it issues the certificate');
      assert.equal(admits(webhook, 'default'), true);
      assert.equal(admits(webhook, 'payments', { team: 'payments' }), true);
      assert.equal(webhook.objectSelector, undefined);
      assert.equal(webhook.matchConditions, undefined);
    }
  });

  it('skip any namespace labelled tagpin.dev/ignore=true, and only those', () => {
    for (const webhook of [mutating(r), validating(r)]) {
      assert.equal(admits(webhook, 'payments', { 'tagpin.dev/ignore': 'true' }), false);
      assert.equal(admits(webhook, 'payments', { 'tagpin.dev/ignore': 'false' }), true);
      assert.equal(admits(webhook, 'payments', { 'tagpin.dev/enabled': 'true' }), true);
    }
  });

  it('derive resolve.timeoutMs from the webhook timeout: 8000 ms for 10 s', () => {
    assert.equal(timeoutMsOf(r), 8000);
  });

  it('have names that are unique, qualified and valid as audit-annotation prefixes', () => {
    const names = [mutating(r).name, validating(r).name];
    assert.equal(new Set(names).size, 2);
    for (const name of names) assert.match(String(name), /^[a-z0-9-]+(\.[a-z0-9-]+){2,}$/);
  });
});

describe('webhook configurations per install choice', () => {
  it('validate only: no MutatingWebhookConfiguration, the validating one unchanged', () => {
    const r = renderChart({ values: { webhooks: { mutating: { enabled: false } } } });
    assert.deepEqual(all(r, 'MutatingWebhookConfiguration'), []);
    assert.deepEqual([...coverage(validating(r)).keys()].sort(), [...EVERY_RESOURCE].sort());
  });

  it('mutate only: no ValidatingWebhookConfiguration, the mutating one unchanged', () => {
    const r = renderChart({ values: { webhooks: { validating: { enabled: false } } } });
    assert.deepEqual(all(r, 'ValidatingWebhookConfiguration'), []);
    assert.equal(mutating(r).reinvocationPolicy, 'IfNeeded');
    assert.deepEqual([...coverage(mutating(r)).keys()].sort(), [...EVERY_RESOURCE].sort());
  });

  it('opt-in: only namespaces carrying the label, and never kube-system or the release namespace', () => {
    const r = renderChart({ values: { webhooks: { optIn: { enabled: true } } } });
    for (const webhook of [mutating(r), validating(r)]) {
      assert.equal(admits(webhook, 'default'), false);
      assert.equal(admits(webhook, 'default', { 'tagpin.dev/enabled': 'true' }), true);
      assert.equal(admits(webhook, 'default', { 'tagpin.dev/enabled': 'false' }), false);
      assert.equal(admits(webhook, 'kube-system', { 'tagpin.dev/enabled': 'true' }), false);
      assert.equal(admits(webhook, 'tagpin', { 'tagpin.dev/enabled': 'true' }), false);
    }
  });

  it('opt-in and opt-out together: the opt-out label wins', () => {
    const r = renderChart({ values: { webhooks: { optIn: { enabled: true } } } });
    for (const webhook of [mutating(r), validating(r)]) {
      assert.equal(admits(webhook, 'web', { 'tagpin.dev/enabled': 'true' }), true);
      assert.equal(admits(webhook, 'web', { 'tagpin.dev/enabled': 'true', 'tagpin.dev/ignore': 'true' }), false);
      assert.equal(admits(webhook, 'kube-node-lease', { 'tagpin.dev/enabled': 'true' }), false);
      assert.equal(admits(webhook, 'kube-public', { 'tagpin.dev/enabled': 'true' }), false);
    }
  });

  it('opt-out with a custom label', () => {
    const r = renderChart({ values: { webhooks: { optOut: { labelKey: 'example.com/no-pinning', labelValue: 'yes' } } } });
    for (const webhook of [mutating(r), validating(r)]) {
      assert.equal(admits(webhook, 'web', { 'example.com/no-pinning': 'yes' }), false);
      assert.equal(admits(webhook, 'web', { 'example.com/no-pinning': 'no' }), true);
      assert.equal(admits(webhook, 'web', { 'tagpin.dev/ignore': 'true' }), true, 'the default label no longer applies');
    }
  });

  it("tls.mode=cert-manager: cert-manager's namespace is skipped, so it can issue tagpin's certificate while tagpin is down", () => {
    const r = renderChart({ values: { tls: { mode: 'cert-manager' } } });
    for (const webhook of [mutating(r), validating(r)]) {
      assert.equal(admits(webhook, 'cert-manager'), false);
      assert.equal(admits(webhook, 'kube-system'), false);
      assert.equal(admits(webhook, 'default'), true);
    }
    const elsewhere = renderChart({ values: { tls: { mode: 'cert-manager', certManager: { namespace: 'security' } } } });
    assert.equal(admits(validating(elsewhere), 'security'), false, 'tls.certManager.namespace names it');
    assert.equal(admits(validating(elsewhere), 'cert-manager'), true);
  });

  it('opt-in with a custom label', () => {
    const r = renderChart({ values: { webhooks: { optIn: { enabled: true, labelKey: 'example.com/pin-images', labelValue: 'yes' } } } });
    assert.equal(admits(validating(r), 'web', { 'example.com/pin-images': 'yes' }), true);
    assert.equal(admits(validating(r), 'web', { 'tagpin.dev/enabled': 'true' }), false);
  });

  it('namespaces excluded in the config are not sent to tagpin at all', () => {
    const r = renderChart({ values: { config: { exclude: { namespaces: ['kube-system', 'ci-sandbox'] } } }, namespace: 'platform' });
    for (const webhook of [mutating(r), validating(r)]) {
      assert.equal(admits(webhook, 'ci-sandbox'), false);
      assert.equal(admits(webhook, 'platform'), false);
      assert.equal(admits(webhook, 'tagpin'), true, 'only the release namespace is special');
    }
  });

  it('custom failurePolicy and timeout: per-webhook override, timeoutMs follows the timeout', () => {
    const r = renderChart({ values: { webhooks: { failurePolicy: 'Ignore', timeoutSeconds: 5, validating: { failurePolicy: 'Fail' } } } });
    assert.equal(mutating(r).failurePolicy, 'Ignore');
    assert.equal(validating(r).failurePolicy, 'Fail');
    assert.equal(mutating(r).timeoutSeconds, 5);
    assert.equal(validating(r).timeoutSeconds, 5);
    assert.equal(timeoutMsOf(r), 4000);
  });

  it('derives a timeoutMs that always leaves the API server time to get the answer', () => {
    for (const [seconds, expected] of [[1, 800], [2, 1600], [10, 8000], [30, 28000]] as const) {
      assert.equal(timeoutMsOf(renderChart({ values: { webhooks: { timeoutSeconds: seconds } } })), expected, `${String(seconds)} s`);
    }
  });

  it('keeps an explicit resolve.timeoutMs below the webhook timeout', () => {
    assert.equal(timeoutMsOf(renderChart({ values: { config: { resolve: { timeoutMs: 9500 } } } })), 9500);
  });

  it('refuses a resolve.timeoutMs the API server would not wait for, naming both values', () => {
    for (const values of [{ config: { resolve: { timeoutMs: 10000 } } }, { webhooks: { timeoutSeconds: 3 }, config: { resolve: { timeoutMs: 5000 } } }]) {
      const result = helmTemplate({ values });
      assert.notEqual(result.status, 0);
      assert.match(result.stderr, /config\.resolve\.timeoutMs \(\d+\) must be below webhooks\.timeoutSeconds\*1000 \(\d+\)/);
    }
  });

  it('mutates only the configured kinds, while validation still covers every kind', () => {
    const r = renderChart({ values: { config: { mutate: { kinds: ['Pod', 'Deployment', 'CronJob'] } } } });
    assert.deepEqual([...coverage(mutating(r)).keys()].sort(), ['/pods', '/pods/ephemeralcontainers', 'apps/deployments', 'batch/cronjobs']);
    assert.deepEqual([...coverage(validating(r)).keys()].sort(), [...EVERY_RESOURCE].sort());
  });

  it('refuses a mutating webhook that would match nothing', () => {
    const result = helmTemplate({ values: { config: { mutate: { kinds: [] } } } });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /config\.mutate\.kinds is empty.*webhooks\.mutating\.enabled=false/);
    assert.equal(helmTemplate({ values: { config: { mutate: { kinds: [] } }, webhooks: { mutating: { enabled: false } } } }).status, 0);
  });

  it('passes matchConditions and objectSelector to both webhooks', () => {
    const matchConditions = [{ name: 'not-kubelet', expression: "!request.userInfo.username.startsWith('system:node:')" }];
    const objectSelector = { matchExpressions: [{ key: 'tagpin.dev/skip', operator: 'DoesNotExist' }] };
    const r = renderChart({ values: { webhooks: { matchConditions, objectSelector } } });
    for (const webhook of [mutating(r), validating(r)]) {
      assert.deepEqual(webhook.matchConditions, matchConditions);
      assert.deepEqual(webhook.objectSelector, objectSelector);
    }
  });

  it('can leave reinvocation off', () => {
    const r = renderChart({ values: { webhooks: { mutating: { reinvocationPolicy: 'Never' } } } });
    assert.equal(mutating(r).reinvocationPolicy, 'Never');
  });
});
