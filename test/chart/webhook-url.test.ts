// webhooks.url: both webhooks call a tagpin running outside the cluster, trusted through the chart's own CA.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { removeOnExit } from '../support/exit-cleanup.ts';
import { admissionReview, startServe } from '../support/serve.ts';
import type { TagpinServer } from '../support/serve.ts';
import { startHelmCluster } from './helm-cluster.ts';
import type { HelmCluster } from './helm-cluster.ts';
import { all, field, helmTemplate, only, renderChart, renderChartAsync } from './render.ts';
import type { KubeObject, Rendered } from './render.ts';

type Json = Record<string, unknown>;

const URL_VALUE = 'https://127.0.0.1:8443';
const decode = (b64: unknown): string => Buffer.from(String(b64), 'base64').toString('utf8');

/** The clientConfig of each rendered webhook configuration, mutating first. */
function clientConfigs(r: readonly Rendered[]): Json[] {
  return [...all(r, 'MutatingWebhookConfiguration'), ...all(r, 'ValidatingWebhookConfiguration')].map(
    (w) => field(w, 'webhooks', 0, 'clientConfig') as Json,
  );
}

/** The generated Secret's certificate, key and CA. */
function generated(r: readonly Rendered[]): { cert: string; key: string; ca: string; secret: KubeObject } {
  const secret = only(r, 'Secret');
  const data = secret.data as Json;
  return { cert: decode(data['tls.crt']), key: decode(data['tls.key']), ca: decode(data['ca.crt']), secret };
}

const withURL = (url: string, values: Json = {}): Rendered[] => renderChart({ values: { ...values, webhooks: { url } } });

describe('webhooks.url set', () => {
  const r = withURL(URL_VALUE);

  it('has both webhooks call <url>/mutate and <url>/validate instead of the Service', () => {
    const [mutate, validate] = clientConfigs(r);
    assert.equal(mutate?.url, `${URL_VALUE}/mutate`);
    assert.equal(validate?.url, `${URL_VALUE}/validate`);
    for (const config of [mutate, validate]) assert.equal(config?.service, undefined, 'url and service are exclusive');
  });

  it('keeps the caBundle of tls.mode=helm: the CA of the generated Secret', () => {
    const { ca } = generated(r);
    assert.deepEqual(clientConfigs(r).map((c) => decode(c.caBundle)), [ca, ca]);
  });

  it("issues the serving certificate for the URL's IP as an IP SAN (Go refuses a certificate naming it only in the CN), and still for the Service", () => {
    const leaf = new X509Certificate(generated(r).cert);
    assert.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1');
    assert.match(leaf.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
    assert.equal(leaf.checkHost('tagpin.tagpin.svc'), 'tagpin.tagpin.svc');
    assert.equal(new X509Certificate(generated(renderChart()).cert).checkIP('127.0.0.1'), undefined, 'without webhooks.url it does not');
  });

  it('issues it for a DNS host as a DNS SAN, and for a bracketed IPv6 literal as an IP SAN', () => {
    const dns = new X509Certificate(generated(withURL('https://tagpin.dev-box.example:9443/hooks')).cert);
    assert.equal(dns.checkHost('tagpin.dev-box.example'), 'tagpin.dev-box.example');
    assert.match(dns.subjectAltName ?? '', /DNS:tagpin\.dev-box\.example/);
    assert.equal(new X509Certificate(generated(withURL('https://[::1]:8443')).cert).checkIP('::1'), '::1');
  });

  it('tolerates trailing slashes without a double slash, and keeps a path prefix', () => {
    assert.deepEqual(clientConfigs(withURL(`${URL_VALUE}/`)).map((c) => c.url), [`${URL_VALUE}/mutate`, `${URL_VALUE}/validate`]);
    assert.deepEqual(clientConfigs(withURL('https://hooks.example/tagpin//')).map((c) => c.url), [
      'https://hooks.example/tagpin/mutate',
      'https://hooks.example/tagpin/validate',
    ]);
  });

  it('tls.mode=secret: the given CA bundle', () => {
    const caBundle = generated(renderChart()).ca;
    const s = withURL(URL_VALUE, { tls: { mode: 'secret', secretName: 'corp-tls', secret: { caBundle } } });
    assert.deepEqual(clientConfigs(s).map((c) => [c.url, decode(c.caBundle)]), [[`${URL_VALUE}/mutate`, caBundle], [`${URL_VALUE}/validate`, caBundle]]);
  });

  it('tls.mode=cert-manager: cainjector still fills the caBundle, and the Certificate covers the URL host', () => {
    const c = withURL(URL_VALUE, { tls: { mode: 'cert-manager' } });
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      const configuration = only(c, kind);
      assert.equal(configuration.metadata.annotations?.['cert-manager.io/inject-ca-from'], 'tagpin/tagpin-serving');
      assert.equal(field(configuration, 'webhooks', 0, 'clientConfig', 'caBundle'), undefined);
      assert.match(String(field(configuration, 'webhooks', 0, 'clientConfig', 'url')), /^https:\/\/127\.0\.0\.1:8443\/(mutate|validate)$/);
    }
    const serving = all(c, 'Certificate').find((x) => field(x, 'spec', 'isCA') !== true);
    assert.deepEqual(field(serving, 'spec', 'ipAddresses'), ['127.0.0.1']);
    const dns = withURL('https://tagpin.dev-box.example', { tls: { mode: 'cert-manager' } });
    const dnsNames = field(all(dns, 'Certificate').find((x) => field(x, 'spec', 'isCA') !== true), 'spec', 'dnsNames') as string[];
    assert.ok(dnsNames.includes('tagpin.dev-box.example') && dnsNames.includes('tagpin.tagpin.svc'));
  });
});

describe('a tagpin outside the cluster started with the Secret tagpin-tls', () => {
  const r = withURL(URL_VALUE);
  const { cert, key, ca } = generated(r);
  let server: TagpinServer;

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tagpin-webhook-url-'));
    removeOnExit(dir);
    const tlsCert = join(dir, 'tls.crt');
    const tlsKey = join(dir, 'tls.key');
    writeFileSync(tlsCert, cert);
    writeFileSync(tlsKey, key);
    const config = parse(String(field(only(r, 'ConfigMap'), 'data', 'config.yaml'))) as Json;
    const settings: Json = { ...(config.server as Json), tlsCert, tlsKey };
    delete settings.port; // startServe picks a free one; 8443 may be taken
    server = await startServe({ config: { ...config, server: settings } });
  });
  after(async () => {
    await server?.stop();
  });

  it('answers the call the API server makes to clientConfig.url, verified against the caBundle by IP', async () => {
    const url = new URL(String(clientConfigs(r)[1]?.url));
    url.port = String(server.port); // this test's server listens on a free port, not 8443
    const caBundle = decode(clientConfigs(r)[1]?.caBundle);
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'outside', namespace: 'demo' }, spec: { containers: [{ name: 'app', image: `registry.example/app@sha256:${'1'.repeat(64)}` }] } };
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const call = request(url, { method: 'POST', ca: caBundle, headers: { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      call.on('error', reject);
      call.end(JSON.stringify(admissionReview({ object: pod })));
    });
    assert.equal(answer.status, 200, answer.body);
    assert.equal(field(JSON.parse(answer.body), 'response', 'allowed'), true);
    assert.equal(ca, caBundle);
  });
});

describe('webhooks.url on upgrade (tls.mode=helm)', () => {
  let cluster: HelmCluster;
  const installed = { plain: generated(renderChart({ namespace: 'plain' })), outside: generated(renderChart({ namespace: 'outside', values: { webhooks: { url: URL_VALUE } } })) };

  /** The Secret as the API server stores it after `helm install`. */
  const stored = (secret: KubeObject, namespace: string): Json => ({
    ...secret,
    metadata: {
      ...secret.metadata,
      annotations: { ...secret.metadata.annotations, 'meta.helm.sh/release-name': 'tagpin', 'meta.helm.sh/release-namespace': namespace },
      resourceVersion: '4711',
    },
  });

  before(async () => {
    cluster = await startHelmCluster({
      '/api/v1/namespaces/plain/secrets/tagpin-tls': stored(installed.plain.secret, 'plain'),
      '/api/v1/namespaces/outside/secrets/tagpin-tls': stored(installed.outside.secret, 'outside'),
    });
  });
  after(async () => cluster.stop());

  const upgrade = (namespace: string, url: string): Promise<Rendered[]> =>
    renderChartAsync({
      namespace,
      values: { webhooks: { url } },
      args: ['--dry-run=server', '--disable-openapi-validation', '--is-upgrade'],
      env: { KUBECONFIG: cluster.kubeconfig },
    });

  it('replaces a certificate that does not cover the new URL host, keeping the old CA trusted meanwhile', async () => {
    const r = await upgrade('plain', URL_VALUE);
    const fresh = generated(r);
    assert.notEqual(fresh.cert, installed.plain.cert);
    assert.equal(new X509Certificate(fresh.cert).checkIP('127.0.0.1'), '127.0.0.1');
    for (const config of clientConfigs(r)) {
      const bundle = decode(config.caBundle);
      assert.ok(bundle.includes(fresh.ca.trim()) && bundle.includes(installed.plain.ca.trim()), 'new and old CA both trusted');
    }
  });

  it('keeps certificate, key and CA byte for byte when the URL host is already covered', async () => {
    const again = generated(await upgrade('outside', `${URL_VALUE}/`));
    assert.equal(again.cert, installed.outside.cert);
    assert.equal(again.key, installed.outside.key);
    assert.equal(again.ca, installed.outside.ca);
  });
});

describe('a webhooks.url the API server would refuse fails the render with one line naming the rule and the fix', () => {
  const cases: ReadonlyArray<readonly [string, string, RegExp]> = [
    ['plain http', 'http://127.0.0.1:8443', /webhooks\.url "http:\/\/127\.0\.0\.1:8443" must start with https:\/\/.*: set it as https:\/\/HOST\[:PORT\]\[\/PATH\]/],
    ['no scheme', '127.0.0.1:8443', /webhooks\.url "127\.0\.0\.1:8443" must start with https:\/\//],
    ['user info', 'https://admin:s3cret@127.0.0.1:8443', /webhooks\.url must not contain user info .*remove it/],
    ['a query', 'https://127.0.0.1:8443/?token=x', /webhooks\.url ".*" must not contain a query .*swallow the \/mutate and \/validate/],
    ['an empty query', 'https://127.0.0.1:8443?', /must not contain a query/],
    ['a fragment', 'https://127.0.0.1:8443/#top', /webhooks\.url ".*" must not contain a fragment/],
    ['no host', 'https:///mutate', /webhooks\.url "https:\/\/\/mutate" needs a host after https:\/\//],
    ['a port that is not a number', 'https://127.0.0.1:http', /needs a host after https:\/\//],
    ['a space in the path', 'https://127.0.0.1:8443/my hooks', /has a path with characters a URL cannot hold unencoded/],
  ];
  for (const [what, url, message] of cases) {
    it(`refuses ${what}`, () => {
      const result = helmTemplate({ values: { webhooks: { url } } });
      assert.notEqual(result.status, 0);
      const [first] = result.stderr.split('\n');
      assert.match(String(first), message);
      assert.match(String(first), /^Error: execution error at \(tagpin\/templates\/[^)]+\): webhooks\.url/);
      assert.doesNotMatch(result.stderr, /s3cret/, 'user info is never echoed');
    });
  }

  it('is typed as a string in values.schema.json', () => {
    const result = helmTemplate({ values: { webhooks: { url: 8443 } } });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /\/webhooks\/url/);
  });
});
