// Talks to the Kubernetes API: GETs of single Secrets and ServiceAccounts and pages of lists, and the few writes of background audits, as outcomes that never throw.
// Only the client's KubeConfig is used (where the API is, how to authenticate, token rotation, exec
// plugins); the requests themselves are plain HTTPS, so the generated API classes and their models
// (most of the client's code and memory) are never loaded.
import { Agent, request as httpsRequest } from 'node:https';
import type { AgentOptions, RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { KubeConfig, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { ReadOutcome } from './types.ts';

/** GETs of the two objects the source needs; RBAC grants tagpin `get` on them and nothing more. */
export interface KubeReader {
  readSecret(namespace: string, name: string, signal: AbortSignal): Promise<ReadOutcome<V1Secret>>;
  readServiceAccount(namespace: string, name: string, signal: AbortSignal): Promise<ReadOutcome<V1ServiceAccount>>;
}

/** One GET of an API path (with its query), its JSON body parsed; never throws. */
export type KubeGet = <T>(path: string, signal: AbortSignal, maxBodyBytes?: number) => Promise<ReadOutcome<T>>;

/** An object larger than this is no Secret the API server would store (etcd's limit is 1.5 MiB). */
const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** The TLS settings a kubeconfig gives, which never change while the process runs. */
const TLS_FIELDS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

/** A reader over `kubeConfig`'s current context. @throws Error when the config has no current cluster */
export function createKubeReader(kubeConfig: KubeConfig): KubeReader {
  const read = createKubeGet(kubeConfig);
  return {
    readSecret: (namespace, name, signal) =>
      read<V1Secret>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`, signal),
    readServiceAccount: (namespace, name, signal) =>
      read<V1ServiceAccount>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(name)}`, signal),
  };
}

/** What the API server answered: its status and, for a 2xx, the parsed body; or why nothing came back. */
export type KubeAnswer =
  | { readonly status: number; readonly body: unknown }
  | { readonly status: 'timeout' }
  | { readonly status: 'network'; readonly reason: string };

/** One request (GET, POST, PUT) with a JSON body; never throws. */
export type KubeRequest = (
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  signal: AbortSignal,
  options?: { readonly body?: unknown; readonly maxBodyBytes?: number },
) => Promise<KubeAnswer>;

/** GETs over `kubeConfig`'s current context, sharing one keep-alive pool. @throws Error when the config has no current cluster */
export function createKubeGet(kubeConfig: KubeConfig): KubeGet {
  const send = createKubeRequest(kubeConfig);
  return async <T>(path: string, signal: AbortSignal, maxBodyBytes = MAX_BODY_BYTES): Promise<ReadOutcome<T>> => {
    const answer = await send('GET', path, signal, { maxBodyBytes });
    if (answer.status === 'timeout') return { status: 'timeout' };
    if (answer.status === 'network') return { status: 'failed', reason: answer.reason };
    if (answer.status === 404) return { status: 'not-found' };
    if (answer.status === 403) return { status: 'forbidden' };
    if (answer.status !== 200) return { status: 'failed', reason: `HTTP ${String(answer.status)}` };
    return { status: 'found', value: answer.body as T };
  };
}

/** Requests over `kubeConfig`'s current context, sharing one keep-alive pool. @throws Error when the config has no current cluster */
export function createKubeRequest(kubeConfig: KubeConfig): KubeRequest {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  const server = new URL(cluster.server);
  const base = server.pathname.replace(/\/+$/, '');
  // One keep-alive pool for every request; a cluster reached through a proxy keeps the client's proxy agent.
  let agent: Agent | undefined;
  const agentFor = (options: RequestOptions): RequestOptions['agent'] => {
    if ((cluster.proxyUrl !== undefined && cluster.proxyUrl !== '') || server.protocol === 'http:') return options.agent;
    if (agent === undefined) {
      const settings: AgentOptions = { keepAlive: true, maxSockets: 16 };
      for (const field of TLS_FIELDS) {
        if (options[field] !== undefined) Object.assign(settings, { [field]: options[field] });
      }
      agent = new Agent(settings);
    }
    return agent;
  };

  return async (method, path, signal, extra = {}) => {
    try {
      // The kubeconfig decides the Authorization header on every call: a rotated token file or an
      // exec plugin's new token is picked up as the client itself would.
      const options: RequestOptions = { headers: {} };
      await kubeConfig.applyToHTTPSOptions(options);
      const body = extra.body === undefined ? undefined : JSON.stringify(extra.body);
      const response = await exchange(server, { ...options, agent: agentFor(options), method, path: `${base}${path}` }, signal, extra.maxBodyBytes ?? MAX_BODY_BYTES, body);
      return { status: response.status, body: response.body === '' ? undefined : JSON.parse(response.body) };
    } catch (err) {
      if (signal.aborted) return { status: 'timeout' };
      return { status: 'network', reason: networkReason(err) };
    }
  };
}

/** One exchange; the body is read only for a 2xx (an error body may quote the object). */
function exchange(
  server: URL,
  options: RequestOptions & { readonly method: string; readonly path: string },
  signal: AbortSignal,
  maxBodyBytes: number,
  body: string | undefined,
): Promise<{ readonly status: number; readonly body: string }> {
  // A plain-http server is what the client allows with insecure-skip-tls-verify only (its own rule).
  const send = server.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      {
        ...options,
        protocol: server.protocol,
        hostname: server.hostname.replace(/^\[|\]$/g, ''),
        port: server.port === '' ? 443 : Number(server.port),
        headers: {
          ...options.headers,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }),
        },
        signal,
      },
      (response: IncomingMessage) => {
        const status = response.statusCode ?? 0;
        if (status < 200 || status > 299) {
          response.resume();
          resolve({ status, body: '' });
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBodyBytes) {
            req.destroy(new Error('response too large'));
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => {
          resolve({ status, body: Buffer.concat(chunks).toString('utf8') });
        });
        response.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
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
