// A real control plane on 127.0.0.1: etcd, kube-apiserver and kube-controller-manager with generated PKI.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { releaseDir, removeOnExit } from '../../support/exit-cleanup.ts';
import { createPki } from '../../support/pki.ts';
import { freePort } from '../../support/ports.ts';
import type { Pki } from '../../support/pki.ts';
import { ensureBinaries } from './binaries.ts';
import type { ControlPlaneBinaries } from './binaries.ts';
import { startDaemon, waitUntil } from './daemon.ts';
import type { Daemon } from './daemon.ts';

const run = promisify(execFile);

/** A running control plane. */
export interface Cluster {
  readonly binaries: ControlPlaneBinaries;
  /** `https://127.0.0.1:PORT` */
  readonly server: string;
  readonly pki: Pki;
  /** Kubeconfig of a system:masters client certificate. */
  readonly adminKubeconfig: string;
  /** The API server's audit log (JSON lines, level Metadata for every request). */
  readonly auditLogFile: string;
  /** Working folder of this cluster (logs, PKI, etcd data); removed by stop(). */
  readonly dir: string;
  readonly processes: readonly Daemon[];
  /** GET on the API server with the admin certificate; the body as text. */
  get(path: string): Promise<{ readonly status: number; readonly text: string }>;
  /** Writes a kubeconfig that authenticates with `token` (a ServiceAccount's TokenRequest token). */
  tokenKubeconfig(name: string, token: string): Promise<string>;
  /** Stops kube-controller-manager, kube-apiserver and etcd by PID and removes `dir`. Safe to call twice. */
  stop(): Promise<void>;
}

/** Options of `startCluster`. */
export interface ClusterOptions {
  /** Extra kube-apiserver flags. */
  readonly apiserverArgs?: readonly string[];
}

const auditPolicy = {
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: [
    // Reads are many and tell the suite nothing; writes carry the admission annotations.
    { level: 'None', verbs: ['get', 'list', 'watch'] },
    { level: 'None', resources: [{ group: 'coordination.k8s.io', resources: ['leases'] }] },
    { level: 'Metadata' },
  ],
};

/** Builds or reuses the binaries, then starts etcd, kube-apiserver and kube-controller-manager. Call `stop()` in `after()`. */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const binaries = await ensureBinaries();
  const dir = await mkdtemp(join(tmpdir(), 'tagpin-e2e-cluster-'));
  removeOnExit(dir);
  const processes: Daemon[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const daemon of [...processes].reverse()) await daemon.stop();
      await rm(dir, { recursive: true, force: true });
      releaseDir(dir);
    })();
    return stopping;
  };
  try {
    const pki = await createPki();
    const serving = await pki.issue('kube-apiserver', ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', '10.0.0.1']);
    const admin = await pki.issue('admin', [], 'system:masters');
    const serviceAccountKey = join(dir, 'service-accounts.key');
    const serviceAccountPublicKey = join(dir, 'service-accounts.pub');
    // SEC1 ("EC PRIVATE KEY") and PKIX public key: the forms kube-apiserver's key file readers accept.
    await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', serviceAccountKey], { timeout: 10_000 });
    await run('openssl', ['ec', '-in', serviceAccountKey, '-pubout', '-out', serviceAccountPublicKey], { timeout: 10_000 });

    const etcd = await startEtcd(binaries, dir, processes);
    const port = await freePort();
    const server = `https://127.0.0.1:${String(port)}`;
    const adminKubeconfig = join(dir, 'admin.kubeconfig');
    await writeFile(adminKubeconfig, kubeconfig(server, pki.caPem, { 'client-certificate-data': b64(admin.certPem), 'client-key-data': b64(admin.keyPem) }));
    const auditPolicyFile = join(dir, 'audit-policy.yaml');
    const auditLogFile = join(dir, 'audit.log');
    await writeFile(auditPolicyFile, stringify(auditPolicy));

    const apiserver = startDaemon('kube-apiserver', binaries.kubeApiserver, [
      `--etcd-servers=${etcd}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${String(port)}`,
      '--advertise-address=127.0.0.1',
      // The endpoint reconciler refuses a loopback advertise address.
      '--endpoint-reconciler-type=none',
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${serving.certFile}`,
      `--tls-private-key-file=${serving.keyFile}`,
      `--client-ca-file=${pki.caFile}`,
      '--authorization-mode=RBAC',
      '--allow-privileged=true',
      '--service-cluster-ip-range=10.0.0.0/24',
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${serviceAccountPublicKey}`,
      `--service-account-signing-key-file=${serviceAccountKey}`,
      `--audit-policy-file=${auditPolicyFile}`,
      `--audit-log-path=${auditLogFile}`,
      '--audit-log-format=json',
      // Flush each event as it happens, so a scenario can read its own request's event.
      '--audit-log-mode=blocking',
      ...(options.apiserverArgs ?? []),
    ], join(dir, 'kube-apiserver.log'));
    processes.push(apiserver);
    const adminAgent = new Agent({ connect: { ca: pki.caPem, cert: admin.certPem, key: admin.keyPem } });
    const get = async (path: string): Promise<{ status: number; text: string }> => {
      const answer = await request(`${server}${path}`, { dispatcher: adminAgent, headersTimeout: 30_000, bodyTimeout: 30_000 });
      return { status: answer.statusCode, text: await answer.body.text() };
    };
    await waitUntil(apiserver, 'ready', async () => (await get('/readyz')).status === 200);

    const controllerManager = await startControllerManager(binaries, dir, adminKubeconfig, serviceAccountKey, pki);
    processes.push(controllerManager);
    // The ServiceAccount controller is running once the default namespace has its `default` ServiceAccount.
    await waitUntil(controllerManager, 'creating ServiceAccounts', async () => (await get('/api/v1/namespaces/default/serviceaccounts/default')).status === 200);

    return {
      binaries,
      server,
      pki,
      adminKubeconfig,
      auditLogFile,
      dir,
      processes,
      get,
      async tokenKubeconfig(name, token) {
        const file = join(dir, `${name}.kubeconfig`);
        await writeFile(file, kubeconfig(server, pki.caPem, { token }));
        return file;
      },
      async stop() {
        await adminAgent.close().catch(() => undefined);
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startEtcd(binaries: ControlPlaneBinaries, dir: string, processes: Daemon[]): Promise<string> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const client = `http://127.0.0.1:${String(clientPort)}`;
  const peer = `http://127.0.0.1:${String(peerPort)}`;
  const etcd = startDaemon('etcd', binaries.etcd, [
    '--name=e2e',
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=e2e=${peer}`,
    // Test data need not survive a power cut; fsync per write is most of etcd's latency on a VM disk.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ], join(dir, 'etcd.log'));
  processes.push(etcd);
  await waitUntil(etcd, 'healthy', async () => {
    const answer = await request(`${client}/health`, { headersTimeout: 2_000, bodyTimeout: 2_000 });
    return answer.statusCode === 200 && (await answer.body.text()).includes('"health":"true"');
  });
  return client;
}

async function startControllerManager(binaries: ControlPlaneBinaries, dir: string, adminKubeconfig: string, serviceAccountKey: string, pki: Pki): Promise<Daemon> {
  return startDaemon('kube-controller-manager', binaries.kubeControllerManager, [
    `--kubeconfig=${adminKubeconfig}`,
    `--authentication-kubeconfig=${adminKubeconfig}`,
    `--authorization-kubeconfig=${adminKubeconfig}`,
    '--bind-address=127.0.0.1',
    // No HTTPS endpoint of its own: two suites at once would fight over the default port.
    '--secure-port=0',
    `--service-account-private-key-file=${serviceAccountKey}`,
    `--root-ca-file=${pki.caFile}`,
    '--leader-elect=false',
    // Each controller acts as its own ServiceAccount, as in kubeadm clusters (audit lines name it).
    '--use-service-account-credentials=true',
  ], join(dir, 'kube-controller-manager.log'));
}

function b64(pem: string): string {
  return Buffer.from(pem).toString('base64');
}

function kubeconfig(server: string, caPem: string, user: Readonly<Record<string, string>>): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'e2e', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [{ name: 'e2e', user }],
    contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: 'e2e' } }],
    'current-context': 'e2e',
  });
}
