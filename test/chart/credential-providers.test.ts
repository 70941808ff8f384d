// credentialProviders.*: the CredentialProviderConfig in the ConfigMap, the plugins' volume, and
// registries.credentialProviders pointing at both, as tagpin's own loaders read them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/index.ts';
import { parseProviderConfig } from '../../src/credentials/index.ts';
import { schemaErrors, unknownFieldErrors } from './kube-validate.ts';
import { field, helmTemplate, only, renderChart } from './render.ts';

type Json = Record<string, unknown>;

const ECR = {
  name: 'ecr-credential-provider',
  matchImages: ['*.dkr.ecr.*.amazonaws.com', '*.dkr.ecr.*.amazonaws.com.cn'],
  defaultCacheDuration: '12h',
  apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
};
const HOST_PLUGINS = { hostPath: { path: '/etc/eks/image-credential-provider', type: 'Directory' } };

function providersValues(overrides: Json = {}): Json {
  return {
    credentialProviders: {
      enabled: true,
      config: { apiVersion: 'kubelet.config.k8s.io/v1', kind: 'CredentialProviderConfig', providers: [ECR] },
      plugins: HOST_PLUGINS,
      ...overrides,
    },
  };
}

function podSpec(values: Json): Json {
  return field(only(renderChart({ values }), 'Deployment'), 'spec', 'template', 'spec') as Json;
}

describe('chart credentialProviders', () => {
  it('renders nothing of it by default', () => {
    const rendered = renderChart();
    const data = field(only(rendered, 'ConfigMap'), 'data') as Json;
    assert.deepEqual(Object.keys(data), ['config.yaml']);
    assert.equal(parseConfig(String(data['config.yaml']), 'ConfigMap').registries.credentialProviders, null);
    const spec = field(only(rendered, 'Deployment'), 'spec', 'template', 'spec') as Json;
    assert.equal((spec.volumes as Json[]).some((v) => v.name === 'credential-providers'), false);
    assert.equal(spec.initContainers, undefined);
  });

  it('points registries.credentialProviders at the config it mounts and the plugins volume, both as tagpin reads them', () => {
    const rendered = renderChart({ values: providersValues() });
    const data = field(only(rendered, 'ConfigMap'), 'data') as Json;
    const config = parseConfig(String(data['config.yaml']), 'ConfigMap');
    assert.deepEqual(config.registries.credentialProviders, { config: '/etc/tagpin/credential-providers.yaml', binDir: '/opt/credential-providers' });
    // The file is the CredentialProviderConfig given, and tagpin's own validator accepts it.
    const providers = parseProviderConfig(parse(String(data['credential-providers.yaml'])), 'ConfigMap');
    assert.deepEqual(providers.map((p) => [p.name, p.matchImages, p.defaultCacheMs]), [[ECR.name, ECR.matchImages, 12 * 3_600_000]]);

    const spec = field(only(rendered, 'Deployment'), 'spec', 'template', 'spec') as Json;
    const container = (spec.containers as Json[])[0] as Json;
    const mounts = container.volumeMounts as Json[];
    assert.deepEqual(mounts.find((m) => m.name === 'credential-providers'), { name: 'credential-providers', mountPath: '/opt/credential-providers', readOnly: true });
    const configMount = mounts.find((m) => m.name === 'config');
    assert.equal(configMount?.mountPath, '/etc/tagpin');
    const volumes = spec.volumes as Json[];
    assert.deepEqual(volumes.find((v) => v.name === 'credential-providers'), { name: 'credential-providers', ...HOST_PLUGINS });
    const projected = field(volumes.find((v) => v.name === 'config'), 'projected', 'sources', 0, 'configMap', 'items') as Json[];
    assert.deepEqual(projected.map((item) => item.path), ['config.yaml', 'credential-providers.yaml']);
  });

  it('renders objects valid against the Kubernetes schemas, with init containers that fill an emptyDir', () => {
    const copy = {
      name: 'copy-plugins',
      image: 'registry.example/plugins:v1',
      command: ['/bin/cp', '/plugins/ecr-credential-provider', '/out/'],
      volumeMounts: [{ name: 'credential-providers', mountPath: '/out' }],
    };
    const rendered = renderChart({ values: providersValues({ plugins: { emptyDir: {} }, initContainers: [copy] }) });
    const deployment = only(rendered, 'Deployment');
    assert.deepEqual(field(deployment, 'spec', 'template', 'spec', 'initContainers'), [copy]);
    assert.deepEqual(schemaErrors(deployment), []);
    assert.deepEqual(unknownFieldErrors(rendered.map((r) => r.object)), []);
  });

  it('rolls the pods when the CredentialProviderConfig changes', () => {
    const checksum = (values: Json): unknown =>
      field(only(renderChart({ values }), 'Deployment'), 'spec', 'template', 'metadata', 'annotations', 'checksum/config');
    const before = checksum(providersValues());
    const longer = providersValues({ config: { apiVersion: 'kubelet.config.k8s.io/v1', kind: 'CredentialProviderConfig', providers: [{ ...ECR, defaultCacheDuration: '6h' }] } });
    assert.notEqual(checksum(longer), before);
    assert.equal(checksum(providersValues()), before);
  });

  it('fails the render with the value to set when something is missing, or when the chart\'s own key is set', () => {
    const cases: ReadonlyArray<readonly [Json, RegExp]> = [
      [providersValues({ config: { apiVersion: 'kubelet.config.k8s.io/v1', kind: 'CredentialProviderConfig', providers: [] } }), /credentialProviders\.config\.providers must list at least one provider when credentialProviders\.enabled is true/],
      [providersValues({ plugins: {} }), /credentialProviders\.plugins must be the volume holding the plugin binaries when credentialProviders\.enabled is true, e\.g\. --set credentialProviders\.plugins\.hostPath\.path=/],
      // The chart owns the key, as it owns the TLS paths: set credentialProviders.* instead.
      [{ config: { registries: { credentialProviders: { config: '/x', binDir: '/y' } } } }, /\/config\/registries.*credentialProviders/],
    ];
    for (const [values, message] of cases) {
      const result = helmTemplate({ values });
      assert.notEqual(result.status, 0);
      assert.match(result.stderr, message);
    }
  });

  it('rejects a misspelt or malformed provider field at install time (values.schema.json)', () => {
    const typo = helmTemplate({ values: providersValues({ config: { apiVersion: 'kubelet.config.k8s.io/v1', kind: 'CredentialProviderConfig', providers: [{ ...ECR, matchImage: ['x'] }] } }) });
    assert.notEqual(typo.status, 0);
    assert.match(typo.stderr, /\/credentialProviders\/config\/providers\/0.*matchImage/);
    const duration = helmTemplate({ values: providersValues({ config: { apiVersion: 'kubelet.config.k8s.io/v1', kind: 'CredentialProviderConfig', providers: [{ ...ECR, defaultCacheDuration: '12 hours' }] } }) });
    assert.notEqual(duration.status, 0);
    assert.match(duration.stderr, /defaultCacheDuration/);
  });

  it('leaves the webhook container alone otherwise: one container, same security context', () => {
    const spec = podSpec(providersValues());
    assert.equal((spec.containers as Json[]).length, 1);
    assert.equal(field((spec.containers as Json[])[0], 'securityContext', 'readOnlyRootFilesystem'), true);
  });
});

