// The registry label stays bounded whatever hosts the admitted images name, and reads the same in every metric.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MAX_REGISTRY_LABELS } from '../../src/metrics/index.ts';
import { labelValues } from '../support/prometheus.ts';
import { startRegistry } from '../support/registry.ts';
import { admissionReview, startServe } from '../support/serve.ts';
import type { TagpinServer } from '../support/serve.ts';

function seriesCount(text: string, metric: string): number {
  return text.split('\n').filter((line) => line.startsWith(`${metric}{`)).length;
}

describe('registry label of the metrics', () => {
  let server: TagpinServer;

  before(async () => {
    server = await startServe({
      // Every 127.x.y.z is loopback and listed, so each of the 500 registries below is really tried.
      // A long budget: every lookup ends refused (one error code), never timed out on a loaded machine.
      config: { registries: { allow: ['127.*.*.*'] }, resolve: { onError: 'allow', timeoutMs: 30_000 } },
    });
  });
  after(async () => {
    await server?.stop();
  });

  it('500 images naming 500 registries add at most 51 series to each metric, the rest as "other"', async () => {
    // Port 9 has no listener on any of these addresses: every lookup is refused at once, on loopback.
    const images = Array.from({ length: 500 }, (_, i) => `127.0.${String(Math.floor(i / 250) + 1)}.${String((i % 250) + 1)}:9/app:v1`);
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'many', namespace: 'demo' },
      spec: { containers: images.map((image, i) => ({ name: `c${String(i)}`, image })) },
    };
    const answer = await server.review('mutate', admissionReview({ object: pod }));
    assert.equal(answer.response.allowed, true, 'onError allow');
    const text = await server.metrics();
    for (const metric of ['tagpin_registry_requests_total', 'tagpin_resolve_errors_total', 'tagpin_registry_retries_total']) {
      const values = labelValues(text, metric, 'registry');
      assert.ok(values.size > 0, `${metric} has series`);
      assert.ok(values.size <= MAX_REGISTRY_LABELS + 1, `${metric}: ${String(values.size)} registry values`);
      assert.ok(values.has('other'), `${metric} counts the rest as other`);
      assert.ok(seriesCount(text, metric) <= MAX_REGISTRY_LABELS + 1, `${metric}: ${String(seriesCount(text, metric))} series`);
    }
  });

  it('labels token-realm requests with the registry they were for, as every other metric does', async () => {
    const registry = await startRegistry('token');
    const local = await startServe({ config: { registries: { allow: ['127.0.0.1'], caFile: registry.pki?.caFile } } });
    try {
      assert.ok(registry.tokenRealm !== undefined);
      const realmHost = new URL(registry.tokenRealm).host;
      assert.notEqual(realmHost, registry.host, 'the realm is another host');
      await registry.push('public/app', 'v1', 'oci-manifest');
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'demo' }, spec: { containers: [{ name: 'a', image: `${registry.host}/public/app:v1` }] } };
      const answer = await local.review('mutate', admissionReview({ object: pod }));
      assert.equal(answer.response.allowed, true, answer.response.status?.message);
      assert.ok(registry.tokenRequests().length > 0, 'a token was fetched from the realm');
      const text = await local.metrics();
      assert.deepEqual([...labelValues(text, 'tagpin_registry_requests_total', 'registry')], [registry.host]);
    } finally {
      await local.stop();
      await registry.stop();
    }
  });
});
