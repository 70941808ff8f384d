// The optional NetworkPolicy: only the webhook and metrics ports are reachable, each from the peers configured for it.
import assert from 'node:assert/strict';
import { BlockList, isIPv4 } from 'node:net';
import { describe, it } from 'node:test';
import { all, field, only, renderChart } from './render.ts';
import type { KubeObject, Rendered } from './render.ts';

type Json = Record<string, unknown>;
type Labels = Readonly<Record<string, string>>;

/** Where a connection comes from: an address outside the cluster's pods, or a pod in a namespace. */
type Source = { readonly ip: string } | { readonly namespace: string; readonly labels?: Labels };

interface Peer {
  readonly ipBlock?: { readonly cidr: string; readonly except?: readonly string[] };
  readonly podSelector?: { readonly matchLabels?: Labels };
  readonly namespaceSelector?: { readonly matchLabels?: Labels };
}

const selects = (selector: { readonly matchLabels?: Labels } | undefined, labels: Labels): boolean =>
  Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);

function inCidr(ip: string, cidr: string): boolean {
  const [address, prefix] = cidr.split('/') as [string, string];
  const list = new BlockList();
  list.addSubnet(address, Number(prefix), isIPv4(address) ? 'ipv4' : 'ipv6');
  return list.check(ip, isIPv4(ip) ? 'ipv4' : 'ipv6');
}

function peerMatches(peer: Peer, source: Source, policyNamespace: string): boolean {
  if ('ip' in source) return peer.ipBlock !== undefined && inCidr(source.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c) => inCidr(source.ip, c));
  if (peer.ipBlock !== undefined) return false;
  const namespaceOk =
    peer.namespaceSelector === undefined ? source.namespace === policyNamespace : selects(peer.namespaceSelector, { 'kubernetes.io/metadata.name': source.namespace });
  return namespaceOk && selects(peer.podSelector, source.labels ?? {});
}

/**
 * Whether the policy lets `source` reach the webhook pod on `port`, evaluated as a NetworkPolicy
 * implementation does: some ingress rule lists the port (named ports resolved against the
 * container) and either has no `from` or a peer matching the source.
 */
function reaches(r: readonly Rendered[], source: Source, port: number): boolean {
  const policy = only(r, 'NetworkPolicy');
  const containerPorts = field(only(r, 'Deployment'), 'spec', 'template', 'spec', 'containers', 0, 'ports') as Json[];
  const number = (p: unknown): number => (typeof p === 'number' ? p : Number(containerPorts.find((c) => c.name === p)?.containerPort));
  return (field(policy, 'spec', 'ingress') as Json[]).some((rule) => {
    const ports = (rule.ports as Json[] | undefined) ?? [];
    const portOk = ports.length === 0 || ports.some((p) => number(p.port) === port && (p.protocol ?? 'TCP') === 'TCP');
    const from = rule.from as Peer[] | undefined;
    return portOk && (from === undefined || from.some((peer) => peerMatches(peer, source, String(policy.metadata.namespace))));
  });
}

const podLabels = (r: readonly Rendered[]): Labels => field(only(r, 'Deployment'), 'spec', 'template', 'metadata', 'labels') as Labels;
const testPodLabels = (r: readonly Rendered[]): Labels =>
  (all(r, 'Pod').find((p) => p.metadata.annotations?.['helm.sh/hook'] === 'test') as KubeObject).metadata.labels ?? {};

const API_SERVER = { ip: '10.0.0.1' } as const;
const OTHER_PORTS = [22, 443, 5000, 8080, 9091, 10250];

describe('NetworkPolicy', () => {
  it('is not rendered unless networkPolicy.enabled', () => {
    assert.deepEqual(all(renderChart(), 'NetworkPolicy'), []);
  });

  it('enabled: selects the webhook pods and admits the webhook and metrics ports only, egress left open', () => {
    const r = renderChart({ values: { networkPolicy: { enabled: true } } });
    const policy = only(r, 'NetworkPolicy');
    assert.ok(selects(field(policy, 'spec', 'podSelector') as { matchLabels: Labels }, podLabels(r)));
    assert.deepEqual(field(policy, 'spec', 'policyTypes'), ['Ingress']);
    for (const rule of field(policy, 'spec', 'ingress') as Json[]) {
      assert.ok(Array.isArray(rule.ports) && rule.ports.length > 0, 'a rule without ports would open every port');
    }
    for (const source of [API_SERVER, { namespace: 'monitoring' }]) {
      assert.equal(reaches(r, source, 8443), true, 'webhook port');
      assert.equal(reaches(r, source, 9090), true, 'metrics port');
      for (const port of OTHER_PORTS) assert.equal(reaches(r, source, port), false, `port ${String(port)}`);
    }
  });

  it('follows config.server.port and metricsPort, through the named container ports', () => {
    const r = renderChart({ values: { networkPolicy: { enabled: true }, config: { server: { port: 9443, metricsPort: 9100 } } } });
    assert.equal(reaches(r, API_SERVER, 9443), true);
    assert.equal(reaches(r, API_SERVER, 9100), true);
    assert.equal(reaches(r, API_SERVER, 8443), false);
    assert.equal(reaches(r, API_SERVER, 9090), false);
  });

  it('with peers: each port only from its own peers, the webhook port also from the helm test pod', () => {
    const r = renderChart({
      values: {
        networkPolicy: {
          enabled: true,
          webhookFrom: [{ ipBlock: { cidr: '10.0.0.0/8' } }],
          metricsFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
        },
      },
    });
    assert.equal(reaches(r, API_SERVER, 8443), true);
    assert.equal(reaches(r, { ip: '192.168.1.10' }, 8443), false);
    assert.equal(reaches(r, API_SERVER, 9090), false, 'the API server gets no metrics');
    assert.equal(reaches(r, { namespace: 'monitoring' }, 9090), true);
    assert.equal(reaches(r, { namespace: 'monitoring' }, 8443), false);
    assert.equal(reaches(r, { namespace: 'tagpin', labels: testPodLabels(r) }, 8443), true, '`helm test` still reaches the Service');
    assert.equal(reaches(r, { namespace: 'tagpin', labels: testPodLabels(r) }, 9090), false);
    assert.equal(reaches(r, { namespace: 'web', labels: testPodLabels(r) }, 8443), false, 'only the test pod of this release');
    for (const port of OTHER_PORTS) assert.equal(reaches(r, { ip: '10.1.2.3' }, port), false, `port ${String(port)}`);
  });

  it('restricts egress only when rules are given', () => {
    const egress = [{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ port: 443, protocol: 'TCP' }] }];
    const policy = only(renderChart({ values: { networkPolicy: { enabled: true, egress } } }), 'NetworkPolicy');
    assert.deepEqual(field(policy, 'spec', 'policyTypes'), ['Ingress', 'Egress']);
    assert.deepEqual(field(policy, 'spec', 'egress'), egress);
  });
});
