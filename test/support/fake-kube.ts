// A small HTTPS stand-in for the Kubernetes API: serves Secrets and ServiceAccounts by GET, like the real one.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { createPki } from './pki.ts';
import type { Pki } from './pki.ts';
import { listen } from './ports.ts';

/** A running fake API server; see `startFakeKube`. */
export interface FakeKube {
  /** `https://127.0.0.1:PORT` */
  readonly url: string;
  /** A kubeconfig (cluster with CA, user with bearer token, current context) that reaches this server. */
  readonly kubeconfigFile: string;
  /** The CA that signed the server's certificate. */
  readonly caFile: string;
  /** The bearer token every request must carry. */
  readonly token: string;
  /** Adds or replaces a Secret; `data` values are plain text and stored base64-encoded, as the API does. */
  addSecret(ns: string, name: string, type: string, data: Readonly<Record<string, string>>): void;
  /** Adds or replaces a ServiceAccount with these `imagePullSecrets` names. */
  addServiceAccount(ns: string, name: string, imagePullSecrets: readonly string[]): void;
  /** Removes an object added before (`/api/v1/namespaces/NS/secrets/NAME` style path). */
  remove(path: string): void;
  /** Delays every answer by `ms` (a slow API). */
  setDelay(ms: number): void;
  /** Answers 403 Forbidden for this path, as the API does when RBAC does not grant `get`. */
  forbid(path: string): void;
  /** Requests received for `path` (query string ignored), or in all when omitted. */
  requests(path?: string): number;
  /** Requests whose client closed the connection before the answer was sent (an aborted read). */
  abandoned(): number;
  stop(): Promise<void>;
}

/** Options of `startFakeKube`. */
export interface FakeKubeOptions {
  /** CA to issue the server certificate from. @default a fresh one */
  readonly pki?: Pki;
}

const objectPath = /^\/api\/v1\/namespaces\/([^/]+)\/(secrets|serviceaccounts)\/([^/]+)$/;

/** Starts the fake API on 127.0.0.1 with a free port and writes its kubeconfig. */
export async function startFakeKube(options: FakeKubeOptions = {}): Promise<FakeKube> {
  const pki = options.pki ?? (await createPki());
  const certificate = await pki.issue(`kube-${randomBytes(4).toString('hex')}`, []);
  const token = `fake-${randomBytes(12).toString('hex')}`;
  const objects = new Map<string, Readonly<Record<string, unknown>>>();
  const forbidden = new Set<string>();
  const counts = new Map<string, number>();
  const pending = new Set<NodeJS.Timeout>();
  let delayMs = 0;
  let abandoned = 0;

  const server = createServer({ key: certificate.keyPem, cert: certificate.certPem, minVersion: 'TLSv1.2' }, (req, res) => {
    const path = new URL(req.url ?? '/', 'https://fake').pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const timer = setTimeout(() => {
      pending.delete(timer);
      if (!res.destroyed) answer(req, res, path);
    }, delayMs);
    pending.add(timer);
    // A client that gives up (aborted request) must not leave a timer behind.
    res.on('close', () => {
      if (!res.writableEnded) abandoned += 1;
      clearTimeout(timer);
      pending.delete(timer);
    });
  });

  function answer(req: IncomingMessage, res: ServerResponse, path: string): void {
    if (req.headers.authorization !== `Bearer ${token}`) {
      send(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    const match = objectPath.exec(path);
    if (req.method !== 'GET' || match === null) {
      // tagpin's RBAC grants `get` on single objects only: anything else is what a real cluster refuses.
      const verb = req.method === 'GET' ? 'list' : (req.method ?? 'request').toLowerCase();
      send(res, 403, status(403, 'Forbidden', `${verb} on ${path} is forbidden: the fake grants get on secrets and serviceaccounts only`));
      return;
    }
    const [, ns = '', resource = '', name = ''] = match;
    const kind = resource === 'secrets' ? 'secrets' : 'serviceaccounts';
    if (forbidden.has(path)) {
      send(res, 403, status(403, 'Forbidden',
        `${kind} "${name}" is forbidden: User "system:serviceaccount:tagpin:tagpin" cannot get resource "${kind}" in API group "" in the namespace "${ns}"`,
        { name, kind }));
      return;
    }
    const stored = objects.get(path);
    if (stored === undefined) {
      send(res, 404, status(404, 'NotFound', `${kind} "${name}" not found`, { name, kind }));
      return;
    }
    send(res, 200, stored);
  }

  const { port } = await listen(server);
  const url = `https://127.0.0.1:${String(port)}`;
  const kubeconfigFile = join(pki.dir, `kubeconfig-${String(port)}.yaml`);
  await writeFile(kubeconfigFile, [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: fake',
    '  cluster:',
    `    server: ${url}`,
    `    certificate-authority: ${pki.caFile}`,
    'users:',
    '- name: tagpin',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: fake',
    '  context:',
    '    cluster: fake',
    '    user: tagpin',
    'current-context: fake',
    '',
  ].join('\n'));

  let uid = 0;
  const metadata = (ns: string, name: string): Record<string, unknown> => ({
    name,
    namespace: ns,
    uid: `00000000-0000-4000-8000-${String(++uid).padStart(12, '0')}`,
    resourceVersion: String(1000 + uid),
    creationTimestamp: '2025-01-01T00:00:00Z',
  });

  return {
    url,
    kubeconfigFile,
    caFile: pki.caFile,
    token,
    addSecret(ns, name, type, data) {
      const encoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]));
      objects.set(`/api/v1/namespaces/${ns}/secrets/${name}`, {
        kind: 'Secret', apiVersion: 'v1', metadata: metadata(ns, name), type, data: encoded,
      });
    },
    addServiceAccount(ns, name, imagePullSecrets) {
      objects.set(`/api/v1/namespaces/${ns}/serviceaccounts/${name}`, {
        kind: 'ServiceAccount',
        apiVersion: 'v1',
        metadata: metadata(ns, name),
        ...(imagePullSecrets.length > 0 ? { imagePullSecrets: imagePullSecrets.map((n) => ({ name: n })) } : {}),
      });
    },
    remove(path) {
      objects.delete(path);
    },
    setDelay(ms) {
      delayMs = ms;
    },
    forbid(path) {
      forbidden.add(path);
    },
    requests(path) {
      if (path !== undefined) return counts.get(path) ?? 0;
      let total = 0;
      for (const n of counts.values()) total += n;
      return total;
    },
    abandoned() {
      return abandoned;
    },
    async stop() {
      for (const timer of pending) clearTimeout(timer);
      pending.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => { resolve(); }));
    },
  };
}

/** A `Status` object shaped like the API server's failure responses. */
function status(code: number, reason: string, message: string, details?: Readonly<Record<string, string>>): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details === undefined ? {} : { details }),
    code,
  };
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
