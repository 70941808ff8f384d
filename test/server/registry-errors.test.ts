// `tagpin serve` names the cause of a failed lookup in the server's words: config keys and the chart values that set them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pod } from '../support/objects.ts';
import { createPki } from '../support/pki.ts';
import type { Pki } from '../support/pki.ts';
import { requireRegistryBinary, startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { admissionReview } from '../support/reviews.ts';
import { startServe } from '../support/serve.ts';
import type { LogLine, TagpinServer } from '../support/serve.ts';

describe('tagpin serve /mutate denies with the cause and the setting that fixes it', () => {
  let pki: Pki;
  let plain: TestRegistry;
  let tls: TestRegistry;
  let server: TagpinServer;

  before(async () => {
    requireRegistryBinary();
    pki = await createPki();
    [plain, tls] = await Promise.all([startRegistry('http'), startRegistry('tls', { pki })]);
    await Promise.all([plain.push('demo/app', '1.0', 'oci-manifest'), tls.push('demo/app', '1.0', 'oci-manifest')]);
    // The plain registry is not listed insecure (so it is spoken to over HTTPS); the TLS one is, and its CA is not trusted.
    const registries = { insecure: [tls.host], privateHosts: ['127.0.0.1'] };
    server = await startServe({ config: { registries, resolve: { onError: 'deny' } } });
  });
  after(async () => {
    await server?.stop();
    await Promise.all([plain?.stop(), tls?.stop()]);
  });

  it('names a plain-HTTP registry reached over HTTPS, and a TLS registry listed in registries.insecure, in config keys and chart values', async () => {
    const overHttps = `${plain.host}/demo/app:1.0`;
    const overHttp = `${tls.host}/demo/app:1.0`;
    const answer = await server.review('mutate', admissionReview({ object: pod([overHttps, overHttp]) }));
    assert.equal(answer.response.allowed, false);
    const speaksHttp = `${plain.host} speaks plain HTTP; list it in registries.insecure (chart value config.registries.insecure)`;
    const speaksHttps =
      `${tls.host} speaks HTTPS; remove it from registries.insecure (chart value config.registries.insecure)` +
      ' and trust its CA with registries.caFile (chart value config.registries.caFile)';
    assert.equal(
      answer.response.status?.message,
      `tagpin could not pin 2 images: /spec/containers/0/image "${overHttps}": ${speaksHttp}; /spec/containers/1/image "${overHttp}": ${speaksHttps}`,
    );
    const audit = await server.auditFor(answer.response.uid);
    assert.deepEqual((audit['images'] as LogLine[]).map((i) => i['reason']), [speaksHttp, speaksHttps]);
  });
});
