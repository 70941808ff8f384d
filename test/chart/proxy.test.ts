// The documented proxy setup (`extraEnv` with HTTPS_PROXY and NO_PROXY) renders, and its NO_PROXY keeps the cluster direct.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { compileNoProxy } from '../../src/registry/no-proxy.ts';
import { repoRoot } from '../support/paths.ts';
import { field, only, renderChart } from './render.ts';

/** The first yaml block after `heading` in a README. */
function yamlAfter(file: string, heading: string): string {
  const text = readFileSync(join(repoRoot, file), 'utf8');
  const start = text.indexOf(`${heading}\n`);
  assert.ok(start >= 0, `${file} has no "${heading}" section`);
  const block = /```yaml\n([\s\S]*?)```/.exec(text.slice(start));
  assert.ok(block?.[1] !== undefined, `${file}'s "${heading}" section has no yaml block`);
  return block[1];
}

const chartBlock = yamlAfter('charts/tagpin/README.md', '## Behind an HTTP proxy');
const documented = parse(chartBlock) as { readonly extraEnv: ReadonlyArray<{ readonly name: string; readonly value?: string }> };

describe('the chart behind an HTTP proxy', () => {
  it('documents the same values in the README and the chart README', () => {
    assert.equal(yamlAfter('README.md', '### Behind an HTTP proxy'), chartBlock);
  });

  it('renders the documented extraEnv into the tagpin container as written', () => {
    const deployment = only(renderChart({ values: documented }), 'Deployment');
    const containers = field(deployment, 'spec', 'template', 'spec', 'containers') as ReadonlyArray<{ readonly name: string; readonly env?: readonly unknown[] }>;
    // After the chart's own NODE_OPTIONS and MALLOC_ARENA_MAX (test/chart/runtime-env.test.ts).
    assert.deepEqual(containers.find((c) => c.name === 'tagpin')?.env?.slice(-documented.extraEnv.length), documented.extraEnv);
  });

  it('exempts the API server, cluster services and loopback once Kubernetes fills in KUBERNETES_SERVICE_HOST', () => {
    const noProxy = documented.extraEnv.find((e) => e.name === 'NO_PROXY')?.value ?? '';
    assert.match(noProxy, /\$\(KUBERNETES_SERVICE_HOST\)/);
    const exempts = compileNoProxy(noProxy.replace('$(KUBERNETES_SERVICE_HOST)', '10.96.0.1'), 'NO_PROXY');
    for (const url of [
      'https://10.96.0.1:443/api/v1/namespaces/a/secrets/b',
      'https://kubernetes.default.svc/api',
      'https://registry.tools.svc:5000/v2/',
      'https://registry.tools.svc.cluster.local:5000/v2/',
      'https://localhost:5000/v2/',
      'https://127.0.0.1:5000/v2/',
    ]) {
      assert.equal(exempts(new URL(url)), true, url);
    }
    for (const url of ['https://registry-1.docker.io/v2/', 'https://ghcr.io/v2/', 'https://10.96.0.2/v2/']) {
      assert.equal(exempts(new URL(url)), false, url);
    }
  });
});
