// tagpin serve with workloads.presets: a Rollout's AdmissionReview is pinned over TLS against the real registry, and judged by /validate.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { apply_patch } from 'jsonpatch';
import { createPki } from '../support/pki.ts';
import { requireRegistryBinary, startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { rollout } from '../support/objects.ts';
import { admissionReview, patchOf } from '../support/reviews.ts';
import { startServe } from '../support/serve.ts';
import type { TagpinServer } from '../support/serve.ts';

describe('tagpin serve with an Argo Rollouts preset', () => {
  let registry: TestRegistry;
  let server: TagpinServer;
  let app: string;
  let sidecar: string;
  let digests: Map<string, string>;

  before(async () => {
    requireRegistryBinary();
    const pki = await createPki();
    registry = await startRegistry('tls', { pki });
    app = `${registry.host}/demo/app:v1`;
    sidecar = `${registry.host}/demo/proxy:1.22`;
    digests = new Map([
      [app, await registry.push('demo/app', 'v1', 'oci-index')],
      [sidecar, await registry.push('demo/proxy', '1.22', 'docker-manifest')],
    ]);
    const serving = await pki.issue('tagpin-webhook', ['tagpin.tagpin.svc']);
    server = await startServe({
      ca: pki.caPem,
      config: {
        workloads: { presets: ['argo-rollouts'] },
        registries: { caFile: pki.caFile, allow: ['127.0.0.1'] },
        server: { tlsCert: serving.certFile, tlsKey: serving.keyFile },
      },
    });
  });
  after(async () => {
    await server?.stop();
    await registry?.stop();
  });

  it('pins every container of the Rollout template and changes nothing else', async () => {
    const object = rollout([app, sidecar]);
    const answer = await server.review('mutate', admissionReview({ object }));
    assert.equal(answer.response.allowed, true);
    const patched = apply_patch(object, patchOf(answer)) as unknown;
    const expected = rollout([`${app}@${digests.get(app) ?? ''}`, `${sidecar}@${digests.get(sidecar) ?? ''}`]);
    assert.deepEqual(patched, expected);
    const line = await server.auditFor(answer.response.uid);
    assert.equal(line['kind'], 'Rollout', JSON.stringify(line));
    assert.equal(line['decision'], 'patched', JSON.stringify(line));
  });

  it('denies an unpinned :latest in a Rollout at /validate and admits the pinned one', async () => {
    await registry.push('demo/app', 'latest', 'oci-manifest');
    const latest = await server.review('validate', admissionReview({ object: rollout([`${registry.host}/demo/app:latest`]) }));
    assert.equal(latest.response.allowed, false);
    assert.match(latest.response.status?.message ?? '', /\/spec\/template\/spec\/containers\/0\/image .*tag latest is mutable/);
    const pinned = await server.review('validate', admissionReview({ object: rollout([`${app}@${digests.get(app) ?? ''}`]) }));
    assert.equal(pinned.response.allowed, true);
  });
});
