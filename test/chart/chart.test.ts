// The chart, rendered by the real helm for every install scenario: lint, schemas, security, wiring.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/index.ts';
import { createPki } from '../support/pki.ts';
import { runHelm } from '../support/helm.ts';
import { schemaErrors, unknownFieldErrors } from './kube-validate.ts';
import { all, CHART, field, only, renderChart, valuesArgs } from './render.ts';
import type { KubeObject, Rendered } from './render.ts';
import { scenarios } from './scenarios.ts';
import type { Scenario } from './scenarios.ts';

const pki = await createPki();
const SCENARIOS = scenarios(pki.caPem);

const renders = new Map<string, Rendered[]>();
function render(s: Scenario): Rendered[] {
  let r = renders.get(s.name);
  if (r === undefined) {
    r = renderChart({ values: s.values, release: s.release, namespace: s.namespace });
    renders.set(s.name, r);
  }
  return r;
}

type Json = Record<string, unknown>;

/** The webhook Deployment (the only one) and its single container. */
function webhookPod(r: readonly Rendered[]): { deployment: KubeObject; pod: Json; container: Json } {
  const deployment = only(r, 'Deployment');
  const pod = field(deployment, 'spec', 'template', 'spec') as Json;
  const containers = pod.containers as Json[];
  assert.equal(containers.length, 1, 'one container');
  return { deployment, pod, container: containers[0] as Json };
}

/** The Helm test hook pod. */
function testPod(r: readonly Rendered[]): KubeObject {
  const pods = all(r, 'Pod').filter((p) => p.metadata.annotations?.['helm.sh/hook'] === 'test');
  assert.equal(pods.length, 1, 'one helm test pod');
  return pods[0] as KubeObject;
}

function selects(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function assertLockedDown(where: string, podSecurity: Json, container: Json): void {
  assert.equal(podSecurity.runAsNonRoot, true, `${where}: pod runAsNonRoot`);
  assert.ok(Number.isInteger(podSecurity.runAsUser) && (podSecurity.runAsUser as number) > 0, `${where}: numeric non-root runAsUser`);
  assert.deepEqual(podSecurity.seccompProfile, { type: 'RuntimeDefault' }, `${where}: pod seccomp`);
  const sc = container.securityContext as Json;
  assert.equal(sc.runAsNonRoot, true, `${where}: container runAsNonRoot`);
  assert.ok(Number.isInteger(sc.runAsUser) && (sc.runAsUser as number) > 0, `${where}: container numeric user`);
  assert.equal(sc.allowPrivilegeEscalation, false, `${where}: allowPrivilegeEscalation`);
  assert.equal(sc.readOnlyRootFilesystem, true, `${where}: readOnlyRootFilesystem`);
  assert.notEqual(sc.privileged, true, `${where}: not privileged`);
  assert.deepEqual(field(sc, 'capabilities', 'drop'), ['ALL'], `${where}: drops ALL capabilities`);
  assert.equal(field(sc, 'capabilities', 'add'), undefined, `${where}: adds no capability`);
  assert.deepEqual(sc.seccompProfile, { type: 'RuntimeDefault' }, `${where}: container seccomp`);
}

for (const s of SCENARIOS) {
  describe(`chart rendered for "${s.name}"`, () => {
    it('passes helm lint --strict', () => {
      const result = runHelm(['lint', '--strict', CHART, '--namespace', s.namespace, ...valuesArgs(s.values)]);
      assert.equal(result.status, 0, result.stdout + result.stderr);
      assert.doesNotMatch(result.stdout, /\[(WARNING|ERROR)\]/);
    });

    it('prints install notes that say where tagpin runs and how to check it', () => {
      const result = runHelm(['install', s.release, CHART, '--namespace', s.namespace, '--dry-run=client', ...valuesArgs(s.values)]);
      assert.equal(result.status, 0, result.stderr);
      const notes = result.stdout.slice(result.stdout.indexOf('NOTES:'));
      assert.match(notes, new RegExp(`installed in namespace ${s.namespace}\\.`));
      assert.match(notes, new RegExp(`helm test ${s.release} -n ${s.namespace}`));
      const excluded = `kube-system, kube-node-lease, kube-public, ${s.namespace}`;
      if (field(s.values, 'webhooks', 'optIn', 'enabled') === true) assert.match(notes, new RegExp(`Only namespaces labelled[^]*Never ${excluded}`));
      else assert.match(notes, new RegExp(`Every namespace except ${excluded}`));
      const optOutKey = String(field(s.values, 'webhooks', 'optOut', 'labelKey') ?? 'tagpin.dev/ignore');
      const optOutValue = String(field(s.values, 'webhooks', 'optOut', 'labelValue') ?? 'true');
      assert.ok(notes.includes(`A namespace labelled ${optOutKey}=${optOutValue} is skipped`), 'names the opt-out label');
      const url = field(s.values, 'webhooks', 'url');
      if (typeof url === 'string') assert.ok(notes.includes(`The webhooks call ${url.replace(/\/+$/, '')}/mutate`), 'names the URL the webhooks call');
    });

    it('renders only objects valid against the Kubernetes schemas', () => {
      const r = render(s);
      assert.ok(r.length >= 8, `rendered ${String(r.length)} objects`);
      assert.deepEqual(r.flatMap((x) => schemaErrors(x.object)), []);
      for (const { object } of r) {
        if (object.metadata.namespace !== undefined) assert.equal(object.metadata.namespace, s.namespace, `${object.kind} in the release namespace`);
        assert.equal(object.metadata.labels?.['app.kubernetes.io/instance'], s.release, `${object.kind} carries the instance label`);
      }
    });

    it('runs the webhook non-root with a read-only root, no capabilities and seccomp RuntimeDefault', () => {
      const { pod, container } = webhookPod(render(s));
      assertLockedDown('webhook', pod.securityContext as Json, container);
      for (const hostField of ['hostNetwork', 'hostPID', 'hostIPC']) assert.notEqual(pod[hostField], true, hostField);
      const tmp = (pod.volumes as Json[]).find((v) => v.name === 'tmp');
      assert.ok(tmp?.emptyDir !== undefined, '/tmp is an emptyDir: the only writable place');
      assert.ok((container.volumeMounts as Json[]).some((m) => m.name === 'tmp' && m.mountPath === '/tmp'));
      assert.ok(field(container, 'resources', 'requests', 'cpu') !== undefined && field(container, 'resources', 'requests', 'memory') !== undefined);
      assert.ok(field(container, 'resources', 'limits', 'memory') !== undefined, 'memory limit');
    });

    it('probes /healthz and /readyz over HTTPS on the serving port', () => {
      const r = render(s);
      const { container } = webhookPod(r);
      const config = parseConfig(String(field(only(r, 'ConfigMap'), 'data', 'config.yaml')), 'ConfigMap');
      const https = (container.ports as Json[]).find((p) => p.name === 'https');
      assert.equal(https?.containerPort, config.server.port);
      assert.equal((container.ports as Json[]).find((p) => p.name === 'metrics')?.containerPort, config.server.metricsPort);
      assert.deepEqual(field(container, 'livenessProbe', 'httpGet'), { path: '/healthz', port: 'https', scheme: 'HTTPS' });
      assert.deepEqual(field(container, 'readinessProbe', 'httpGet'), { path: '/readyz', port: 'https', scheme: 'HTTPS' });
    });

    it("runs `tagpin serve` on the mounted config, whose TLS paths are the mounted certificate's", () => {
      const r = render(s);
      const { pod, container } = webhookPod(r);
      assert.deepEqual(container.args, ['serve', '--config', '/etc/tagpin/config.yaml']);
      const mount = (container.volumeMounts as Json[]).find((m) => m.mountPath === '/etc/tagpin');
      assert.equal(mount?.readOnly, true);
      const volume = (pod.volumes as Json[]).find((v) => v.name === mount?.name);
      const sources = field(volume, 'projected', 'sources') as Json[];
      const configMap = sources.find((x) => x.configMap !== undefined)?.configMap as Json;
      const secret = sources.find((x) => x.secret !== undefined)?.secret as Json;
      assert.equal(configMap.name, only(r, 'ConfigMap').metadata.name);
      const config = parseConfig(String(field(only(r, 'ConfigMap'), 'data', 'config.yaml')), 'ConfigMap');
      const providers = config.registries.credentialProviders;
      assert.deepEqual(configMap.items, [
        { key: 'config.yaml', path: 'config.yaml' },
        ...(providers === null ? [] : [{ key: 'credential-providers.yaml', path: 'credential-providers.yaml' }]),
      ]);
      if (providers !== null) assert.equal(providers.config, '/etc/tagpin/credential-providers.yaml');
      const paths = Object.fromEntries((secret.items as Json[]).map((i) => [i.key, `/etc/tagpin/${String(i.path)}`]));
      assert.equal(paths['tls.crt'], config.server.tlsCert);
      assert.equal(paths['tls.key'], config.server.tlsKey);
      // The Secret comes from the chart, from cert-manager's Certificate, or already exists.
      const tlsMode = field(s.values, 'tls', 'mode') ?? 'helm';
      if (tlsMode === 'helm') assert.equal(only(r, 'Secret').metadata.name, secret.name);
      if (tlsMode === 'cert-manager') {
        const certificates = all(r, 'Certificate').filter((c) => field(c, 'spec', 'isCA') !== true);
        assert.deepEqual(certificates.map((c) => field(c, 'spec', 'secretName')), [secret.name]);
      }
      if (tlsMode === 'secret') assert.equal(secret.name, field(s.values, 'tls', 'secretName'));
      assert.equal(pod.serviceAccountName, only(r, 'ServiceAccount').metadata.name);
      assert.equal(pod.automountServiceAccountToken, true, 'reads pull secrets through the API');
    });

    it("renders a config tagpin's own loader accepts, with resolve.timeoutMs inside the webhook timeout", () => {
      const r = render(s);
      const config = parseConfig(String(field(only(r, 'ConfigMap'), 'data', 'config.yaml')), 'ConfigMap');
      const webhookTimeouts = [...all(r, 'MutatingWebhookConfiguration'), ...all(r, 'ValidatingWebhookConfiguration')].map(
        (w) => field(w, 'webhooks', 0, 'timeoutSeconds') as number,
      );
      for (const seconds of webhookTimeouts) assert.ok(config.resolve.timeoutMs < seconds * 1000, `${String(config.resolve.timeoutMs)} ms < ${String(seconds)} s`);
      // The rendered config means what values.config means; the chart adds only the TLS paths, a timeout,
      // with credentialProviders.enabled where it mounts the CredentialProviderConfig and the plugins, and
      // with audit.enabled the background audit's keys.
      const given = (field(s.values, 'config') ?? {}) as Json;
      const parsed = parseConfig(stringify(given), 'values.config');
      const withProviders =
        field(s.values, 'credentialProviders', 'enabled') === true
          ? { ...parsed, registries: { ...parsed.registries, credentialProviders: { config: '/etc/tagpin/credential-providers.yaml', binDir: '/opt/credential-providers' } } }
          : parsed;
      // audit.* values become config.audit, with the release's Lease.
      const audit = (field(s.values, 'audit') ?? {}) as Json;
      const expected =
        audit['enabled'] === true
          ? { ...withProviders, audit: { ...withProviders.audit, enabled: true, intervalSeconds: audit['intervalSeconds'] ?? 3600, leaseName: `${s.release}-audit` } }
          : withProviders;
      const derivedTimeout = field(given, 'resolve', 'timeoutMs') === undefined;
      assert.deepEqual(
        { ...config, resolve: { ...config.resolve, timeoutMs: derivedTimeout ? 0 : config.resolve.timeoutMs }, server: { ...config.server, tlsCert: null, tlsKey: null } },
        { ...expected, resolve: { ...expected.resolve, timeoutMs: derivedTimeout ? 0 : expected.resolve.timeoutMs }, server: { ...expected.server, tlsCert: null, tlsKey: null } },
      );
    });

    it('exposes 443 → the serving port and the metrics port on a Service that selects only webhook pods', () => {
      const r = render(s);
      const { deployment } = webhookPod(r);
      const service = only(r, 'Service');
      const ports = field(service, 'spec', 'ports') as Json[];
      assert.deepEqual(ports.find((p) => p.name === 'https'), { name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' });
      assert.equal(ports.find((p) => p.name === 'metrics')?.targetPort, 'metrics');
      const selector = field(service, 'spec', 'selector') as Record<string, string>;
      assert.ok(selects(selector, field(deployment, 'spec', 'template', 'metadata', 'labels') as Record<string, string>));
      assert.deepEqual(field(deployment, 'spec', 'selector', 'matchLabels'), selector);
      assert.ok(!selects(selector, testPod(r).metadata.labels), 'the helm test pod is not a Service endpoint');
    });

    it('grants `get` on secrets and serviceaccounts, and with audit.enabled only what background audits need, to the webhook ServiceAccount', () => {
      const r = render(s);
      const role = only(r, 'ClusterRole');
      const pullSecrets = { apiGroups: [''], resources: ['secrets', 'serviceaccounts'], verbs: ['get'] };
      if (field(s.values, 'audit', 'enabled') === true) {
        assert.deepEqual(role.rules, [
          pullSecrets,
          { apiGroups: [''], resources: ['pods', 'podtemplates', 'replicationcontrollers'], verbs: ['list'] },
          { apiGroups: ['apps'], resources: ['replicasets', 'deployments', 'statefulsets', 'daemonsets'], verbs: ['list'] },
          { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ['list'] },
          { apiGroups: ['wgpolicyk8s.io'], resources: ['policyreports'], verbs: ['get', 'create', 'update'] },
          { apiGroups: [''], resources: ['events'], verbs: ['create'] },
        ]);
        const lease = only(r, 'Role');
        assert.equal(lease.metadata.namespace, s.namespace);
        assert.deepEqual(lease.rules, [
          { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
          { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [`${s.release}-audit`], verbs: ['get', 'update'] },
        ]);
        assert.deepEqual(only(r, 'RoleBinding').roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: lease.metadata.name });
      } else {
        assert.deepEqual(role.rules, [pullSecrets]);
        assert.deepEqual(all(r, 'Role'), []);
      }
      const binding = only(r, 'ClusterRoleBinding');
      assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
      assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: only(r, 'ServiceAccount').metadata.name, namespace: s.namespace }]);
    });

    it('keeps a webhook pod available through voluntary disruptions and spreads the pods', () => {
      const r = render(s);
      const { deployment, pod } = webhookPod(r);
      const replicas = field(deployment, 'spec', 'replicas') as number;
      assert.equal(replicas, field(s.values, 'replicaCount') ?? 2);
      const podLabels = field(deployment, 'spec', 'template', 'metadata', 'labels') as Record<string, string>;
      const budgets = all(r, 'PodDisruptionBudget');
      if (replicas > 1) {
        assert.equal(budgets.length, 1);
        assert.equal(field(budgets[0], 'spec', 'minAvailable'), 1);
        assert.ok(selects(field(budgets[0], 'spec', 'selector', 'matchLabels') as Record<string, string>, podLabels));
      } else {
        assert.deepEqual(budgets, [], 'a single replica gets no budget, so node drains are never blocked');
      }
      assert.equal(field(deployment, 'spec', 'strategy', 'rollingUpdate', 'maxUnavailable'), 0);
      const spread = pod.topologySpreadConstraints as Json[];
      assert.deepEqual(spread.map((c) => c.topologyKey), ['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
      for (const c of spread) assert.ok(selects(field(c, 'labelSelector', 'matchLabels') as Record<string, string>, podLabels));
    });

    it('ships a `helm test` pod that posts a review to the Service over verified TLS', () => {
      const r = render(s);
      const hook = testPod(r);
      const spec = hook.spec as Json;
      const container = (spec.containers as Json[])[0] as Json;
      assertLockedDown('helm test', spec.securityContext as Json, container);
      assert.equal(spec.restartPolicy, 'Never');
      const env = Object.fromEntries((container.env as Json[]).map((e) => [e.name, e]));
      const service = only(r, 'Service');
      assert.equal(field(env, 'TAGPIN_HOST', 'value'), `${service.metadata.name}.${s.namespace}.svc`);
      assert.equal(field(env, 'TAGPIN_PORT', 'value'), '443');
      const ca = env.TAGPIN_CA as Json;
      if (field(s.values, 'tls', 'mode') === 'secret') assert.equal(ca.value, pki.caPem);
      else assert.equal(field(ca, 'valueFrom', 'secretKeyRef', 'key'), 'ca.crt');
      assert.match(String((container.command as string[]).at(-1)), /'\/validate'/);
    });
  });
}

describe('all scenarios together', () => {
  it('use only fields the Kubernetes API defines (no typo the API server would silently drop)', () => {
    const objects = SCENARIOS.flatMap((s) => render(s).map((x) => x.object));
    assert.deepEqual(unknownFieldErrors(objects), []);
  });

  it('notices a misspelt field, so the check above is not vacuous', () => {
    const { deployment } = webhookPod(render(SCENARIOS[0] as Scenario));
    const broken = structuredClone(deployment) as Json;
    const container = (field(broken, 'spec', 'template', 'spec', 'containers') as Json[])[0] as Json;
    (container.securityContext as Json).runAsNonroot = true;
    const errors = unknownFieldErrors([broken as unknown as KubeObject]);
    assert.equal(errors.length, 1);
    assert.match(errors[0] as string, /^Deployment\/tagpin: .*runAsNonroot/);
  });

  it('notices a wrong type, so the schema check is not vacuous', () => {
    const { deployment } = webhookPod(render(SCENARIOS[0] as Scenario));
    const broken = structuredClone(deployment) as Json;
    (field(broken, 'spec') as Json).replicas = 'two';
    assert.match(schemaErrors(broken as unknown as KubeObject).join('\n'), /Deployment\/tagpin: .*replicas must be integer/);
  });

  it('rolls the pods when the config changes, and only then', () => {
    const checksum = (values: Json): unknown =>
      field(only(renderChart({ values }), 'Deployment'), 'spec', 'template', 'metadata', 'annotations', 'checksum/config');
    const before = checksum({});
    assert.match(String(before), /^[a-f0-9]{64}$/);
    assert.equal(checksum({ replicaCount: 3 }), before);
    assert.notEqual(checksum({ config: { validate: { action: 'warn' } } }), before);
    assert.notEqual(checksum({ webhooks: { timeoutSeconds: 20 } }), before, 'the derived resolve.timeoutMs is config too');
  });

  it("ships tagpin's own defaults when values.config is left alone", async () => {
    const { DEFAULT_CONFIG } = await import('../../src/config/index.ts');
    const config = parseConfig(String(field(only(renderChart(), 'ConfigMap'), 'data', 'config.yaml')), 'ConfigMap');
    assert.deepEqual(
      { ...config, server: { ...config.server, tlsCert: null, tlsKey: null } },
      { ...DEFAULT_CONFIG, server: { ...DEFAULT_CONFIG.server, tlsCert: null, tlsKey: null } },
    );
  });
});

describe('webhook pod scheduling', () => {
  it('sets priorityClassName when given, so the webhook pods are scheduled ahead of the workloads they admit', () => {
    const priorityOf = (values: Json): unknown => field(only(renderChart({ values }), 'Deployment'), 'spec', 'template', 'spec', 'priorityClassName');
    assert.equal(priorityOf({}), undefined, 'unset by default: the cluster default priority');
    assert.equal(priorityOf({ priorityClassName: 'system-cluster-critical' }), 'system-cluster-critical');
  });
});
