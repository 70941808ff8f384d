// The chart installed into the e2e cluster with webhooks.url, and a real `tagpin serve` behind that URL.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { releaseDir, removeOnExit } from '../../support/exit-cleanup.ts';
import { startServe } from '../../support/serve.ts';
import type { TagpinServer } from '../../support/serve.ts';
import type { TestRegistry } from '../../support/registry.ts';
import { valuesArgs } from '../../chart/render.ts';
import { freePort } from '../../support/ports.ts';
import type { Cluster } from './cluster.ts';
import type { Json, Kubectl } from './kubectl.ts';

/** A release of the chart whose webhooks call a tagpin serve on 127.0.0.1. */
export interface InstalledTagpin {
  readonly release: string;
  readonly namespace: string;
  /** `https://127.0.0.1:PORT`, the chart's webhooks.url. */
  readonly url: string;
  /** The running server; replaced by `restart`. */
  readonly server: TagpinServer;
  /** `helm upgrade --reuse-values` with `values`, then restarts tagpin serve with the chart's new config. */
  upgrade(values: Json): Promise<void>;
  /** Stops tagpin serve (the webhook configurations stay: the API server now finds nobody at the URL). */
  stopServer(): Promise<void>;
  /** Starts tagpin serve again from the chart's current config. */
  startServer(): Promise<void>;
  /**
   * Starts another tagpin serve from the chart's current config on a port of its own, as a second
   * replica would run (POD_NAME `RELEASE-N`); stopped by `uninstall`.
   */
  startReplica(): Promise<TagpinServer>;
  /** Stops the server and `helm uninstall`s the release. Safe to call twice. */
  uninstall(): Promise<void>;
}

/** Options of `installTagpin`. */
export interface InstallOptions {
  /** Chart values, merged over the ones every install needs (image, webhooks.url, registry access). */
  readonly values?: Json;
  readonly release?: string;
  readonly namespace?: string;
}

/**
 * `helm install` of charts/tagpin with `webhooks.url=https://127.0.0.1:PORT`, then `tagpin serve` on
 * PORT with what the chart made: the serving certificate from the release's TLS Secret, the config
 * from its ConfigMap (file paths pointed at local files) and, for pull secrets, a token of the
 * release's ServiceAccount (TokenRequest), so tagpin has exactly the chart's RBAC.
 */
export async function installTagpin(cluster: Cluster, kubectl: Kubectl, registry: TestRegistry, options: InstallOptions = {}): Promise<InstalledTagpin> {
  const release = options.release ?? 'tagpin';
  const namespace = options.namespace ?? 'tagpin';
  const port = await freePort();
  const url = `https://127.0.0.1:${String(port)}`;
  const dir = await mkdtemp(join(tmpdir(), 'tagpin-e2e-serve-'));
  removeOnExit(dir);
  const base: Json = {
    // The Pods of the chart never start here (no kubelet); this image exists in the test registry.
    image: { repository: `${registry.host}/tagpin/tagpin`, tag: '0.1.0' },
    webhooks: { url },
    // The test registries are on loopback: opened the way an in-house registry is, without allow-list mode.
    config: { registries: { privateHosts: ['127.0.0.1'] } },
  };
  await registry.push('tagpin/tagpin', '0.1.0', 'oci-manifest');
  const install = await kubectl.helm([
    'install', release, 'charts/tagpin', '--namespace', namespace, '--create-namespace',
    ...valuesArgs(base), ...valuesArgs(options.values ?? {}),
  ]);
  if (install.status !== 0) throw new Error(`helm install failed: ${install.stderr.trim()}`);

  let server: TagpinServer | undefined;
  const replicas: TagpinServer[] = [];
  const fullname = release.includes('tagpin') ? release : `${release}-tagpin`;

  /** A tagpin serve on `listenPort` with what the chart made, as the Pod named `podName` would run it. */
  const launch = async (listenPort: number, podName: string): Promise<TagpinServer> => {
    const tls = (options.values?.['tls'] ?? {}) as { secretName?: string; secret?: { caBundle?: string } };
    const secret = await kubectl.get('secret', tls.secretName ?? `${fullname}-tls`, namespace);
    const data = (secret?.['data'] ?? {}) as Record<string, string>;
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    await writeFile(certFile, Buffer.from(data['tls.crt'] ?? '', 'base64'));
    await writeFile(keyFile, Buffer.from(data['tls.key'] ?? '', 'base64'), { mode: 0o600 });
    const configMap = await kubectl.get('configmap', fullname, namespace);
    const config = parse(((configMap?.['data'] ?? {}) as Record<string, string>)['config.yaml'] ?? '{}') as Json;
    const registries = { ...(config['registries'] as Json | undefined), ...(registry.pki === undefined ? {} : { caFile: registry.pki.caFile }) };
    const token = (await kubectl.ok(['create', 'token', fullname, '-n', namespace, '--duration=1h'])).trim();
    const kubeconfig = await cluster.tokenKubeconfig(`${release}-serviceaccount`, token);
    return startServe({
      ca: tls.secret?.caBundle ?? Buffer.from(data['ca.crt'] ?? '', 'base64').toString('utf8'),
      config: { ...config, registries, server: { ...(config['server'] as Json | undefined), port: listenPort, tlsCert: certFile, tlsKey: keyFile } },
      // What the chart's Deployment sets from the downward API.
      env: { KUBECONFIG: kubeconfig, POD_NAMESPACE: namespace, POD_NAME: podName },
    });
  };
  const startServer = async (): Promise<void> => {
    server = await launch(port, `${fullname}-0`);
  };
  const stopServer = async (): Promise<void> => {
    await server?.stop();
  };
  let uninstalled: Promise<void> | undefined;

  try {
    await startServer();
  } catch (error) {
    await kubectl.helm(['uninstall', release, '--namespace', namespace]);
    throw error;
  }
  return {
    release,
    namespace,
    url,
    get server(): TagpinServer {
      if (server === undefined) throw new Error('tagpin serve is not running');
      return server;
    },
    async upgrade(values) {
      const upgrade = await kubectl.helm(['upgrade', release, 'charts/tagpin', '--namespace', namespace, '--reuse-values', ...valuesArgs(values)]);
      if (upgrade.status !== 0) throw new Error(`helm upgrade failed: ${upgrade.stderr.trim()}`);
      await stopServer();
      await startServer();
    },
    stopServer,
    startServer,
    async startReplica() {
      const replica = await launch(await freePort(), `${fullname}-${String(replicas.length + 1)}`);
      replicas.push(replica);
      return replica;
    },
    uninstall() {
      uninstalled ??= (async () => {
        await stopServer();
        for (const replica of replicas) await replica.stop();
        await kubectl.helm(['uninstall', release, '--namespace', namespace]);
        await rm(dir, { recursive: true, force: true });
        releaseDir(dir);
      })();
      return uninstalled;
    },
  };
}
