// registries.mirrors in `tagpin serve`: pins through a real pull-through cache, falls back past a down mirror, counts it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPki } from '../support/pki.ts';
import { closedHost } from '../support/ports.ts';
import { labelValues, sumSamples } from '../support/prometheus.ts';
import { startRegistry, tagpinUserAgent } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { pod } from '../support/objects.ts';
import { admissionReview, patchOf } from '../support/reviews.ts';
import { startServe } from '../support/serve.ts';
import type { TagpinServer } from '../support/serve.ts';

describe('tagpin serve with registries.mirrors', () => {
  /** HTTPS upstream behind a plain-HTTP pull-through cache. */
  let upstream: TestRegistry;
  let cache: TestRegistry;
  /** Plain-HTTP upstream whose only mirror is down. */
  let lonely: TestRegistry;
  let server: TagpinServer;

  before(async () => {
    const pki = await createPki();
    [upstream, lonely] = await Promise.all([startRegistry('tls', { pki }), startRegistry('http')]);
    cache = await startRegistry('http', { pullThrough: upstream });
    server = await startServe({
      config: {
        registries: {
          caFile: pki.caFile,
          // The upstreams are on loopback and listed; the mirrors are listed nowhere but here.
          privateHosts: [upstream.host],
          insecure: [lonely.host],
          mirrors: { [upstream.host]: [cache.baseUrl], [lonely.host]: [`http://${await closedHost()}`] },
        },
      },
    });
  });
  after(async () => {
    await server?.stop();
    await Promise.all([cache, upstream, lonely].map((r) => r?.stop()));
  });

  /** The value the mutate webhook patched into the Pod's only container. */
  async function pinned(image: string): Promise<unknown> {
    const answer = await server.review('mutate', admissionReview({ object: pod([image]) }));
    assert.equal(answer.response.allowed, true);
    return patchOf(answer).find((op) => op.path === '/spec/containers/0/image')?.value;
  }

  it("pins with the upstream's digest answered by the cache, labelling metrics with the image's registry", async () => {
    const pushed = await upstream.push('served/web', 'v1', 'oci-index');
    const image = `${upstream.host}/served/web:v1`;
    const before = upstream.manifestRequests({ userAgent: tagpinUserAgent }).length;
    assert.equal(await pinned(image), `${image}@${pushed}`);
    assert.equal(upstream.manifestRequests({ userAgent: tagpinUserAgent }).length, before, 'the upstream was not asked by tagpin');
    const registries = labelValues(await server.metrics(), 'tagpin_registry_requests_total', 'registry');
    assert.ok(registries.has(upstream.host));
    assert.ok(!registries.has(cache.host), 'the mirror is not a registry label');
  });

  it('falls back to the upstream past a mirror that is down, and counts the fallback', async () => {
    const pushed = await lonely.push('served/api', 'v1', 'docker-manifest');
    const image = `${lonely.host}/served/api:v1`;
    const labels = { registry: lonely.host, reason: 'unreachable' };
    const before = sumSamples(await server.metrics(), 'tagpin_registry_mirror_fallbacks_total', labels);
    assert.equal(await pinned(image), `${image}@${pushed}`);
    assert.equal(sumSamples(await server.metrics(), 'tagpin_registry_mirror_fallbacks_total', labels), before + 1);
  });
});
