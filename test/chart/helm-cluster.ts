// Just enough Kubernetes API for `helm template --dry-run=server`: discovery plus GET of stored objects.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeOnExit } from '../support/exit-cleanup.ts';

/** A running fake API; helm reaches it through `kubeconfig`. */
export interface HelmCluster {
  readonly kubeconfig: string;
  /** Paths of every GET of an object (discovery left out), in order. */
  readonly reads: readonly string[];
  stop(): Promise<void>;
}

/** Resources helm maps the chart's kinds to: [groupVersion, plural, Kind, namespaced]. */
const RESOURCES: ReadonlyArray<readonly [string, string, string, boolean]> = [
  ['v1', 'secrets', 'Secret', true],
  ['v1', 'serviceaccounts', 'ServiceAccount', true],
  ['v1', 'configmaps', 'ConfigMap', true],
  ['v1', 'services', 'Service', true],
  ['v1', 'pods', 'Pod', true],
  ['apps/v1', 'deployments', 'Deployment', true],
  ['policy/v1', 'poddisruptionbudgets', 'PodDisruptionBudget', true],
  ['networking.k8s.io/v1', 'networkpolicies', 'NetworkPolicy', true],
  ['rbac.authorization.k8s.io/v1', 'clusterroles', 'ClusterRole', false],
  ['rbac.authorization.k8s.io/v1', 'clusterrolebindings', 'ClusterRoleBinding', false],
  ['admissionregistration.k8s.io/v1', 'mutatingwebhookconfigurations', 'MutatingWebhookConfiguration', false],
  ['admissionregistration.k8s.io/v1', 'validatingwebhookconfigurations', 'ValidatingWebhookConfiguration', false],
];

/**
 * Starts the fake API on 127.0.0.1 (plain HTTP) serving `objects` by their API paths
 * (`/api/v1/namespaces/NS/secrets/NAME`); every other object is 404 NotFound.
 */
export async function startHelmCluster(objects: Readonly<Record<string, unknown>>): Promise<HelmCluster> {
  const reads: string[] = [];
  const groupVersions = [...new Set(RESOURCES.map(([gv]) => gv))];
  const resourceList = (gv: string): unknown => ({
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: gv,
    resources: RESOURCES.filter(([g]) => g === gv).map(([, name, kind, namespaced]) => ({
      name,
      singularName: kind.toLowerCase(),
      namespaced,
      kind,
      verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'],
    })),
  });
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (path === '/version') return send(200, { major: '1', minor: '33', gitVersion: 'v1.33.0', platform: 'linux/amd64' });
    if (path === '/api') return send(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
    if (path === '/apis') {
      return send(200, {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: groupVersions
          .filter((gv) => gv.includes('/'))
          .map((gv) => {
            const [group, version] = gv.split('/') as [string, string];
            return { name: group, versions: [{ groupVersion: gv, version }], preferredVersion: { groupVersion: gv, version } };
          }),
      });
    }
    if (path === '/api/v1') return send(200, resourceList('v1'));
    const discovery = /^\/apis\/([^/]+\/[^/]+)$/.exec(path);
    if (discovery !== null && groupVersions.includes(discovery[1] as string)) return send(200, resourceList(discovery[1] as string));
    if (req.method === 'GET') reads.push(path);
    const object = req.method === 'GET' ? objects[path] : undefined;
    if (object !== undefined) return send(200, object);
    return send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${path} not found` });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const dir = mkdtempSync(join(tmpdir(), 'tagpin-helm-cluster-'));
  removeOnExit(dir);
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: `http://127.0.0.1:${String(port)}` } }],
      users: [{ name: 'fake', user: { token: 'fake-token' } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
      'current-context': 'fake',
    }),
  );
  return {
    kubeconfig,
    reads,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
