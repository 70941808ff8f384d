// Finds the Kubernetes API to read pull secrets from: in-cluster service account, or KUBECONFIG.
import { delimiter } from 'node:path';
// The client's KubeConfig module alone: the package index would load every generated API class too.
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { ConfigError } from '../errors/index.ts';

/**
 * `file` when given (`--kubeconfig`), else the in-cluster config when `KUBERNETES_SERVICE_HOST` is
 * set, else the files listed in `KUBECONFIG` (merged, first one's context wins); `undefined` when
 * none is there.
 * @throws ConfigError when a kubeconfig file cannot be read or names no current cluster
 */
export function loadKubeConfig(file?: string): KubeConfig | undefined {
  const kubeConfig = new KubeConfig();
  if (file === undefined && nonEmpty(process.env.KUBERNETES_SERVICE_HOST)) {
    // loadFromCluster reads the token and CA from the mounted service account files (the token is re-read as it rotates).
    kubeConfig.loadFromCluster();
    return kubeConfig;
  }
  const where = file === undefined ? 'KUBECONFIG' : '--kubeconfig';
  const files = file === undefined ? (process.env.KUBECONFIG ?? '').split(delimiter).filter(nonEmpty) : [file];
  if (files.length === 0) return undefined;
  files.forEach((path, index) => {
    try {
      if (index === 0) {
        kubeConfig.loadFromFile(path);
      } else {
        const more = new KubeConfig();
        more.loadFromFile(path);
        // kubectl's rule: the first file that names a current context decides it.
        kubeConfig.mergeConfig(more, nonEmpty(kubeConfig.getCurrentContext() as string | undefined));
      }
    } catch (err) {
      throw new ConfigError(`${where} file ${path} cannot be read: ${reason(err)}`, { where, cause: err });
    }
  });
  if (kubeConfig.getCurrentCluster() === null) {
    throw new ConfigError(`${where} ${files.join(delimiter)} has no current context with a cluster; set current-context`, { where });
  }
  return kubeConfig;
}

/** The namespace of the kubeconfig's current context, as kubectl defaults to it; `default` when it names none. */
export function contextNamespace(kubeConfig: KubeConfig): string {
  const context = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
  return nonEmpty(context?.namespace) ? context.namespace : 'default';
}

function nonEmpty(value: string | undefined): value is string {
  return value !== undefined && value !== '';
}

function reason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  // YAML errors name a line and column, never values, so the first line is safe and useful.
  return err instanceof Error ? (err.message.split('\n')[0] ?? 'unreadable') : 'unreadable';
}
