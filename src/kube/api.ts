// Reads single Secrets and ServiceAccounts from the Kubernetes API (GET only), as outcomes that never throw.
import { ApiException, CoreV1Api, IsomorphicFetchHttpLibrary } from '@kubernetes/client-node';
import type { HttpLibrary, KubeConfig, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { ReadOutcome } from './types.ts';

/** GETs of the two objects the source needs; RBAC grants tagpin `get` on them and nothing more. */
export interface KubeReader {
  readSecret(namespace: string, name: string, signal: AbortSignal): Promise<ReadOutcome<V1Secret>>;
  readServiceAccount(namespace: string, name: string, signal: AbortSignal): Promise<ReadOutcome<V1ServiceAccount>>;
}

/** A reader over `kubeConfig`'s current context. @throws Error when the config has no current cluster */
export function createKubeReader(kubeConfig: KubeConfig): KubeReader {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  const http = new IsomorphicFetchHttpLibrary();
  // The generated client takes no signal per call; an HTTP library that sets it on the request
  // lets an abandoned read close its connection instead of lingering until the API answers.
  const withSignal = (signal: AbortSignal): { readonly httpApi: HttpLibrary } => ({
    httpApi: {
      send(request) {
        request.setSignal(signal);
        return http.send(request);
      },
    },
  });
  return {
    readSecret: (namespace, name, signal) =>
      outcomeOf(() => api.readNamespacedSecret({ namespace, name }, withSignal(signal)), signal),
    readServiceAccount: (namespace, name, signal) =>
      outcomeOf(() => api.readNamespacedServiceAccount({ namespace, name }, withSignal(signal)), signal),
  };
}

async function outcomeOf<T>(read: () => Promise<T>, signal: AbortSignal): Promise<ReadOutcome<T>> {
  try {
    return { status: 'found', value: await read() };
  } catch (err) {
    if (signal.aborted) return { status: 'timeout' };
    if (err instanceof ApiException) {
      const code = (err as ApiException<unknown>).code;
      if (code === 404) return { status: 'not-found' };
      if (code === 403) return { status: 'forbidden' };
      return { status: 'failed', reason: `HTTP ${String(code)}` };
    }
    return { status: 'failed', reason: networkReason(err) };
  }
}

/** A short cause that never quotes a response body (it could hold a secret). */
function networkReason(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    const name = (err as { name?: unknown }).name;
    if (typeof name === 'string' && name !== '' && name !== 'Error') return name;
  }
  return 'network error';
}
