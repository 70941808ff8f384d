// Finds the Kubernetes API to read pull secrets from: in-cluster service account, or KUBECONFIG.
import { delimiter } from 'node:path';
// The client's KubeConfig module alone: the package index would load every generated API class too.
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { ConfigError } from '../errors/index.ts';

/**
 * The in-cluster config when `KUBERNETES_SERVICE_HOST` is set, else the files listed in
 * `KUBECONFIG` (merged, first one's context wins); `undefined` when neither is there.
 * @throws ConfigError when a kubeconfig file cannot be read or names no current cluster
 */
export function loadKubeConfig(): KubeConfig | undefined {
  const kubeConfig = new KubeConfig();
  if (nonEmpty(process.env.KUBERNETES_SERVICE_HOST)) {
    // loadFromCluster reads the token and CA from the mounted service account files (the token is re-read as it rotates).
    kubeConfig.loadFromCluster();
    return kubeConfig;
  }
  const files = (process.env.KUBECONFIG ?? '').split(delimiter).filter(nonEmpty);
  if (files.length === 0) return undefined;
  files.forEach((file, index) => {
    try {
      if (index === 0) {
        kubeConfig.loadFromFile(file);
      } else {
        const more = new KubeConfig();
        more.loadFromFile(file);
        // kubectl's rule: the first file that names a current context decides it.
        kubeConfig.mergeConfig(more, nonEmpty(kubeConfig.getCurrentContext() as string | undefined));
      }
    } catch (err) {
      throw new ConfigError(`KUBECONFIG file ${file} cannot be read: ${reason(err)}`, { where: 'KUBECONFIG', cause: err });
    }
  });
  if (kubeConfig.getCurrentCluster() === null) {
    throw new ConfigError(`KUBECONFIG ${files.join(delimiter)} has no current context with a cluster; set current-context`, {
      where: 'KUBECONFIG',
    });
  }
  return kubeConfig;
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
