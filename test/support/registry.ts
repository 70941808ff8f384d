// Runs the real CNCF Distribution registry on 127.0.0.1 for integration tests, and pushes content to it.
import { spawn, spawnSync, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { killOnExit, releaseDir, removeOnExit, terminate } from './exit-cleanup.ts';
import { createPki } from './pki.ts';
import type { Pki } from './pki.ts';
import { freePort } from './ports.ts';
import { startTokenIssuer } from './token-issuer.ts';
import type { TokenIssuer, TokenRequest } from './token-issuer.ts';

/** How the registry is reached and who may use it. */
export type RegistrySetup = 'http' | 'tls' | 'basic' | 'token';

/** What `push` uploads: one image manifest, or a two-platform index/list, in OCI or Docker schema2 form. */
export type ContentKind = 'oci-manifest' | 'docker-manifest' | 'oci-index' | 'docker-list';

/** A request from the registry's access log. */
export interface LoggedRequest {
  readonly method: string;
  /** The request path without its query, e.g. "/v2/app/manifests/v1". */
  readonly path: string;
  readonly status: number;
}

/** Which logged requests to keep. */
export interface LogFilter {
  /** Only those with this User-Agent: `tagpin` for tagpin's own (`tagpinUserAgent`); a pull-through cache's fetches from its upstream carry Go's. */
  readonly userAgent?: string;
}

/** A manifest request from the registry's access log. */
export type ManifestRequest = LoggedRequest;

/** A running registry. Every URL is on 127.0.0.1. */
export interface TestRegistry {
  readonly setup: RegistrySetup;
  /** "127.0.0.1:PORT" */
  readonly host: string;
  /** "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT" */
  readonly baseUrl: string;
  /** tls/basic/token: the CA that signed the registry's and the token issuer's certificates. */
  readonly pki?: Pki;
  /** basic/token: credentials that can pull and push everything. */
  readonly username?: string;
  /** The password now (see `rotatePassword`). */
  readonly password?: string | undefined;
  /** token: "https://127.0.0.1:PORT/token" */
  readonly tokenRealm?: string;
  /** token: the service the registry names in its challenge (the `aud` its tokens must carry). */
  readonly tokenService?: string;
  /** token: the identity token the issuer accepts in `POST realm` with `grant_type=refresh_token`. */
  readonly refreshToken?: string;
  /** Pushes content through the registry's HTTP API (blobs, then manifest(s), then the tag); returns the digest the registry reported (Docker-Content-Digest of the PUT). */
  push(repository: string, tag: string, kind: ContentKind): Promise<string>;
  /** The digest the registry reports now for repository:tag (HEAD with the four manifest media types, admin credentials). */
  digest(repository: string, tag: string): Promise<string>;
  /** Deletes the manifest `digest` through the registry's API (DELETE, `storage.delete.enabled`); its tags go with it. */
  deleteManifest(repository: string, digest: string): Promise<void>;
  /**
   * Requests the registry logged so far that hit /v2/<name>/manifests/…, parsed from its access log,
   * leaving out the harness's own `push` and `digest` calls (recognised by `harnessUserAgent`).
   * Complete for every response a client has already received.
   */
  manifestRequests(filter?: LogFilter): readonly ManifestRequest[];
  /** Every request the access log holds, any path (`/v2/` pings included), the harness's own left out. */
  requests(filter?: LogFilter): readonly LoggedRequest[];
  /**
   * The "http: TLS handshake error" lines of the registry's own log: connections that reached it and
   * broke off during the handshake (a client that refused the certificate, say), so no request was logged.
   * Written when the registry notices the connection closed, which may be just after the client gave up.
   */
  handshakeErrors(): readonly string[];
  /** Token requests the issuer served (token setup), with the scope asked and whether credentials were sent. */
  tokenRequests(): readonly TokenRequest[];
  /**
   * basic: gives `username` a new random password (the registry rereads its htpasswd file) and
   * returns it once the registry accepts it; `password` and the harness's own calls use it from then on.
   */
  rotatePassword(): Promise<string>;
  /** Kills the process (SIGTERM, then SIGKILL after 2 s) and removes temp dirs. Safe to call twice. */
  stop(): Promise<void>;
}

/** Options for `startRegistry`. */
export interface RegistryOptions {
  /** Reuse one CA for several registries. @default a fresh CA per registry, removed by stop() */
  readonly pki?: Pki;
  /**
   * token: given the issuer's realm, returns the realm the registry's challenges name instead, e.g. a
   * fault proxy in front of the issuer (a realm that fails once). `tokenRealm` stays the issuer's own.
   * @default the issuer's realm
   */
  readonly announceRealm?: (issuerRealm: string) => Promise<string>;
  /**
   * Runs the registry as a pull-through cache of `pullThrough` (`proxy.remoteurl`): it fetches with that
   * registry's admin credentials and trusts its CA (SSL_CERT_FILE for the Go process). A cache refuses
   * pushes: push to the upstream, whose access log then tells who asked it what.
   * @default an ordinary registry
   */
  readonly pullThrough?: TestRegistry;
}

/** The User-Agent of tagpin's own requests (what src/registry/transport.ts sends). */
export const tagpinUserAgent = 'tagpin';

/** Manifest media types, by the content kind that produces them. */
export const manifestMediaTypes = {
  'oci-manifest': 'application/vnd.oci.image.manifest.v1+json',
  'docker-manifest': 'application/vnd.docker.distribution.manifest.v2+json',
  'oci-index': 'application/vnd.oci.image.index.v1+json',
  'docker-list': 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const satisfies Record<ContentKind, string>;

/** The Accept header that asks for any of the four manifest types, indexes first. */
export const manifestAccept = [
  manifestMediaTypes['oci-index'],
  manifestMediaTypes['docker-list'],
  manifestMediaTypes['oci-manifest'],
  manifestMediaTypes['docker-manifest'],
].join(', ');

/** The User-Agent of the harness's own requests, which `manifestRequests` leaves out. */
export const harnessUserAgent = 'tagpin-test-harness';

/** Platforms of the two manifests behind an index or list. */
export const indexPlatforms: ReadonlyArray<{ readonly os: string; readonly architecture: string }> = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64' },
];

const binary = 'docker-registry';
const installHint = 'install CNCF Distribution: `apt-get update && apt-get install -y docker-registry` (or bash .ci/run)';
const startAttempts = 5;
const readyTimeoutMs = 10_000;

/** Fails with a clear message (how to install) when docker-registry is missing. */
export function requireRegistryBinary(): void {
  const probe = spawnSync(binary, ['--version'], { stdio: 'ignore', timeout: 10_000 });
  if (probe.error !== undefined) throw new Error(`integration tests need \`${binary}\`, which is not installed: ${installHint}`);
}

/**
 * The registry's handshake-error lines once it has logged every connection closed before this call,
 * so that an absence can be asserted: makes one failing handshake of its own (a client that trusts no
 * CA, from a port of its own) and waits for that line, which it leaves out. TLS setups only.
 */
export async function settledHandshakeErrors(registry: TestRegistry): Promise<readonly string[]> {
  const marks = ownHandshakes.get(registry) ?? new Set<string>();
  ownHandshakes.set(registry, marks);
  if (registry.setup === 'http') throw new Error('settledHandshakeErrors needs a TLS registry');
  const [hostname = '', port = ''] = registry.host.split(':');
  const own = await new Promise<number>((resolve) => {
    const socket = tlsConnect({ host: hostname, port: Number(port) });
    let local = 0;
    socket.once('connect', () => {
      local = socket.localPort ?? 0;
    });
    socket.once('error', () => {
      resolve(local);
    });
    socket.once('secureConnect', () => {
      socket.destroy();
      resolve(local);
    });
  });
  // The client side of a closed connection waits out TIME_WAIT, so no later client reuses this port soon.
  const mark = `from 127.0.0.1:${String(own)}:`;
  marks.add(mark);
  const giveUpAt = Date.now() + 15_000;
  while (!registry.handshakeErrors().some((line) => line.includes(mark))) {
    if (Date.now() > giveUpAt) throw new Error(`the registry never logged the harness's own failed handshake (${mark})`);
    await sleep(20);
  }
  return registry.handshakeErrors().filter((line) => ![...marks].some((m) => line.includes(m)));
}

/** The log marks of the handshakes `settledHandshakeErrors` made itself, per registry. */
const ownHandshakes = new WeakMap<TestRegistry, Set<string>>();

/** Starts a registry in the given setup and waits until /v2/ answers. Call `stop()` in `after()`. */
export async function startRegistry(setup: RegistrySetup, options: RegistryOptions = {}): Promise<TestRegistry> {
  requireRegistryBinary();
  const dir = await mkdtemp(join(tmpdir(), 'tagpin-registry-'));
  removeOnExit(dir);
  const cleanups: Array<() => Promise<void>> = [
    async () => {
      await rm(dir, { recursive: true, force: true });
      releaseDir(dir);
    },
  ];
  const cleanup = async (): Promise<void> => {
    for (const step of cleanups.splice(0).reverse()) await step();
  };

  try {
    const secure = setup !== 'http';
    const ownPki = secure && options.pki === undefined;
    const pki = secure ? (options.pki ?? (await createPki())) : undefined;
    if (ownPki && pki !== undefined) {
      cleanups.push(async () => {
        await rm(pki.dir, { recursive: true, force: true });
        releaseDir(pki.dir);
      });
    }
    const username = setup === 'basic' || setup === 'token' ? 'tagpin' : undefined;
    let password = username === undefined ? undefined : randomBytes(18).toString('base64url');
    const instance = randomBytes(4).toString('hex');
    const tokenService = setup === 'token' ? `tagpin-test-registry-${instance}` : undefined;
    const issuerName = 'tagpin-test-issuer';
    const refreshToken = setup === 'token' ? `tagpin-refresh-${randomBytes(18).toString('base64url')}` : undefined;

    let issuer: TokenIssuer | undefined;
    if (setup === 'token' && pki !== undefined && username !== undefined && password !== undefined && refreshToken !== undefined) {
      const started = await startTokenIssuer({ pki, issuer: issuerName, username, password, refreshToken });
      issuer = started;
      cleanups.push(() => started.close());
    }

    const auth: Record<string, unknown> = {};
    const htpasswdFile = join(dir, 'htpasswd');
    if (setup === 'basic' && username !== undefined && password !== undefined) {
      await writeFile(htpasswdFile, await htpasswdLine(username, password));
      auth.htpasswd = { realm: 'tagpin-test-registry', path: htpasswdFile };
    }
    if (issuer !== undefined && pki !== undefined) {
      const realm = options.announceRealm === undefined ? issuer.realm : await options.announceRealm(issuer.realm);
      auth.token = { realm, service: tokenService, issuer: issuerName, rootcertbundle: pki.caFile };
    }
    const tlsFiles = pki === undefined ? undefined : await pki.issue(`registry-${instance}`, []);
    await mkdir(join(dir, 'data'));

    const agent = new Agent(pki === undefined ? {} : { connect: { ca: pki.caPem } });
    cleanups.push(() => agent.destroy());

    const accessLog = join(dir, 'access.log');
    const appLog = join(dir, 'registry.log');
    const scheme = secure ? 'https' : 'http';
    let running: ChildProcess | undefined;
    let port = 0;
    for (let attempt = 1; attempt <= startAttempts && running === undefined; attempt++) {
      port = await freePort();
      const config = {
        version: 0.1,
        log: { level: 'info', formatter: 'text', accesslog: { disabled: false } },
        storage: {
          filesystem: { rootdirectory: join(dir, 'data') },
          delete: { enabled: true },
          maintenance: { uploadpurging: { enabled: false } },
        },
        http: {
          addr: `127.0.0.1:${String(port)}`,
          secret: randomBytes(16).toString('hex'),
          ...(tlsFiles === undefined ? {} : { tls: { certificate: tlsFiles.certFile, key: tlsFiles.keyFile } }),
        },
        ...(Object.keys(auth).length > 0 ? { auth } : {}),
        ...(options.pullThrough === undefined ? {} : { proxy: proxySettings(options.pullThrough) }),
      };
      const configFile = join(dir, 'config.yml');
      await writeFile(configFile, stringify(config));
      const env = options.pullThrough?.pki === undefined ? undefined : { ...process.env, SSL_CERT_FILE: options.pullThrough.pki.caFile };
      const started = await launch(configFile, accessLog, appLog, `${scheme}://127.0.0.1:${String(port)}`, port, agent, env);
      if (started.kind === 'ready') running = started.process;
      else if (started.kind === 'port-taken') continue;
      else throw new Error(`docker-registry did not start (${setup}): ${started.detail}`);
    }
    if (running === undefined) throw new Error(`docker-registry found no free port in ${String(startAttempts)} attempts`);
    const child = running;
    cleanups.push(() => terminate(child));

    const host = `127.0.0.1:${String(port)}`;
    const baseUrl = `${scheme}://${host}`;

    const authorization = (repository: string): string | undefined => {
      if (setup === 'basic' && username !== undefined && password !== undefined) {
        return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
      }
      if (issuer !== undefined && username !== undefined && tokenService !== undefined) {
        return `Bearer ${issuer.mint(username, tokenService, [{ type: 'repository', name: repository, actions: ['pull', 'push'] }])}`;
      }
      return undefined;
    };
    const api = new RegistryApi(baseUrl, agent, authorization);

    let stopped: Promise<void> | undefined;
    const registry: TestRegistry = {
      setup,
      host,
      baseUrl,
      ...(pki === undefined ? {} : { pki }),
      ...(username === undefined || password === undefined ? {} : { username }),
      get password() {
        return password;
      },
      ...(issuer === undefined || tokenService === undefined || refreshToken === undefined
        ? {}
        : { tokenRealm: issuer.realm, tokenService, refreshToken }),
      push: (repository, tag, kind) => pushContent(api, repository, tag, kind),
      digest: (repository, tag) => api.headDigest(repository, tag),
      deleteManifest: (repository, digest) => api.deleteManifest(repository, digest),
      manifestRequests: (filter = {}) => parseAccessLog(readFileSync(accessLog, 'utf8'), filter).filter((r) => manifestPath.test(r.path)),
      requests: (filter = {}) => parseAccessLog(readFileSync(accessLog, 'utf8'), filter),
      handshakeErrors: () => readFileSync(appLog, 'utf8').split('\n').filter((line) => line.includes('http: TLS handshake error')),
      tokenRequests: () => issuer?.requests() ?? [],
      rotatePassword: async () => {
        if (setup !== 'basic' || username === undefined) throw new Error(`rotatePassword needs the basic setup, not ${setup}`);
        const next = randomBytes(18).toString('base64url');
        await writeFile(htpasswdFile, await htpasswdLine(username, next));
        const accepted = `Basic ${Buffer.from(`${username}:${next}`).toString('base64')}`;
        const giveUpAt = Date.now() + 10_000;
        for (;;) {
          const res = await request(`${baseUrl}/v2/`, { dispatcher: agent, headers: { 'user-agent': harnessUserAgent, authorization: accepted } });
          await res.body.dump();
          if (res.statusCode === 200) break;
          if (Date.now() > giveUpAt) throw new Error('the registry did not take the rotated password within 10 s');
          await sleep(50);
        }
        password = next;
        return next;
      },
      stop: () => (stopped ??= cleanup()),
    };
    return registry;
  } catch (error) {
    await cleanup();
    throw error;
  }
}

type Launch =
  | { readonly kind: 'ready'; readonly process: ChildProcess }
  | { readonly kind: 'port-taken' }
  | { readonly kind: 'failed'; readonly detail: string };

/**
 * Starts the process and waits for its "listening on" line (so the port is really ours) and for
 * /v2/ to answer. The access log goes to a file that `manifestRequests` reads synchronously:
 * Distribution writes each line before it flushes a small response, so no answered request is missed.
 */
async function launch(
  configFile: string,
  accessLog: string,
  appLog: string,
  baseUrl: string,
  port: number,
  agent: Agent,
  env: NodeJS.ProcessEnv | undefined,
): Promise<Launch> {
  const out = openSync(accessLog, 'w');
  const err = openSync(appLog, 'w');
  let child: ChildProcess;
  try {
    child = spawn(binary, ['serve', configFile], { stdio: ['ignore', out, err], ...(env === undefined ? {} : { env }) });
  } finally {
    closeSync(out);
    closeSync(err);
  }
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const spawned = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => {
      resolve(undefined);
    });
    child.once('error', resolve);
  });
  if (spawned !== undefined) return { kind: 'failed', detail: `${spawned.message}; ${installHint}` };
  killOnExit(child);

  const listening = `listening on 127.0.0.1:${String(port)}`;
  const deadline = Date.now() + readyTimeoutMs;
  while (Date.now() < deadline) {
    const log = await readFile(appLog, 'utf8');
    if (exited) {
      if (log.includes('address already in use')) return { kind: 'port-taken' };
      return { kind: 'failed', detail: lastLines(log) };
    }
    if (log.includes(listening)) {
      try {
        const res = await request(`${baseUrl}/v2/`, { dispatcher: agent, headersTimeout: 1_000, bodyTimeout: 1_000, headers: { 'user-agent': harnessUserAgent } });
        await res.body.dump();
        return { kind: 'ready', process: child };
      } catch {
        // Not serving yet; poll again.
      }
    }
    await sleep(50);
  }
  await terminate(child);
  return { kind: 'failed', detail: `/v2/ did not answer within ${String(readyTimeoutMs)} ms; log: ${lastLines(await readFile(appLog, 'utf8'))}` };
}



/** Distribution's `proxy` section: the upstream's URL and the credentials that may pull everything from it. */
function proxySettings(upstream: TestRegistry): Record<string, string> {
  return {
    remoteurl: upstream.baseUrl,
    ...(upstream.username === undefined || upstream.password === undefined ? {} : { username: upstream.username, password: upstream.password }),
  };
}

async function htpasswdLine(username: string, password: string): Promise<string> {
  // Distribution only accepts bcrypt entries.
  const { stdout } = await promisify(execFile)('htpasswd', ['-Bbn', username, password], { timeout: 10_000 });
  return stdout;
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-5).join('\n');
}

/** Combined Log Format: host ident user [time] "METHOD URI PROTO" status size "referer" "user-agent" */
const accessLine = /^\S+ \S+ \S+ \[[^\]]*\] "(\S+) (\S+) [^"]*" (\d{3}) \S+ "(?:[^"\\]|\\.)*" "((?:[^"\\]|\\.)*)"/;
const manifestPath = /^\/v2\/.+\/manifests\/[^/]+$/;

function parseAccessLog(text: string, filter: LogFilter): LoggedRequest[] {
  const found: LoggedRequest[] = [];
  for (const line of text.split('\n')) {
    const match = accessLine.exec(line);
    if (match === null) continue;
    const [, method = '', uri = '', status = '0', userAgent = ''] = match;
    const path = uri.split('?')[0] ?? uri;
    if (userAgent === harnessUserAgent || (filter.userAgent !== undefined && userAgent !== filter.userAgent)) continue;
    found.push({ method, path, status: Number(status) });
  }
  return found;
}

/** The registry HTTP calls the harness makes, always with admin credentials. */
class RegistryApi {
  private readonly baseUrl: string;
  private readonly agent: Agent;
  private readonly authorization: (repository: string) => string | undefined;

  constructor(baseUrl: string, agent: Agent, authorization: (repository: string) => string | undefined) {
    this.baseUrl = baseUrl;
    this.agent = agent;
    this.authorization = authorization;
  }

  /** Uploads a blob (POST to open the session, PUT with the digest to finish); skips it when present. */
  async uploadBlob(repository: string, bytes: Buffer): Promise<string> {
    const digest = sha256(bytes);
    const head = await this.call('HEAD', repository, `/v2/${repository}/blobs/${digest}`);
    if (head.status === 200) return digest;
    const opened = await this.call('POST', repository, `/v2/${repository}/blobs/uploads/`);
    expectStatus(opened, 202, `open a blob upload in ${repository}`);
    const location = header(opened.headers, 'location');
    if (location === undefined) throw new Error(`registry opened a blob upload in ${repository} without a Location`);
    const url = new URL(location, this.baseUrl);
    url.searchParams.set('digest', digest);
    const put = await this.call('PUT', repository, url.pathname + url.search, {
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expectStatus(put, 201, `upload blob ${digest} to ${repository}`);
    return digest;
  }

  /** PUTs a manifest under a tag or digest and returns the Docker-Content-Digest the registry sent. */
  async putManifest(repository: string, reference: string, mediaType: string, bytes: Buffer): Promise<string> {
    const put = await this.call('PUT', repository, `/v2/${repository}/manifests/${reference}`, {
      body: bytes,
      headers: { 'content-type': mediaType },
    });
    expectStatus(put, 201, `put manifest ${repository}:${reference}`);
    const digest = header(put.headers, 'docker-content-digest');
    if (digest === undefined) throw new Error(`registry stored ${repository}:${reference} without a Docker-Content-Digest`);
    return digest;
  }

  /** HEAD by tag with the four manifest types; the Docker-Content-Digest the registry answers. */
  async headDigest(repository: string, tag: string): Promise<string> {
    const head = await this.call('HEAD', repository, `/v2/${repository}/manifests/${tag}`, { headers: { accept: manifestAccept } });
    expectStatus(head, 200, `HEAD ${repository}:${tag}`);
    const digest = header(head.headers, 'docker-content-digest');
    if (digest === undefined) throw new Error(`registry answered HEAD ${repository}:${tag} without a Docker-Content-Digest`);
    return digest;
  }

  /** DELETE of a manifest by digest; Distribution answers 202 Accepted. */
  async deleteManifest(repository: string, digest: string): Promise<void> {
    expectStatus(await this.call('DELETE', repository, `/v2/${repository}/manifests/${digest}`), 202, `delete manifest ${repository}@${digest}`);
  }

  private async call(
    method: 'HEAD' | 'POST' | 'PUT' | 'DELETE',
    repository: string,
    path: string,
    extra: { readonly body?: Buffer; readonly headers?: Record<string, string> } = {},
  ): Promise<{ readonly status: number; readonly headers: Record<string, string | string[] | undefined>; readonly text: string }> {
    const authorization = this.authorization(repository);
    const res = await request(new URL(path, this.baseUrl), {
      method,
      dispatcher: this.agent,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
      headers: {
        'user-agent': harnessUserAgent,
        ...(authorization === undefined ? {} : { authorization }),
        ...(extra.body === undefined ? {} : { 'content-length': String(extra.body.length) }),
        ...extra.headers,
      },
      ...(extra.body === undefined ? {} : { body: extra.body }),
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text };
  }
}

function expectStatus(res: { readonly status: number; readonly text: string }, status: number, what: string): void {
  if (res.status !== status) throw new Error(`registry refused to ${what}: HTTP ${String(res.status)} ${res.text.slice(0, 300)}`);
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

type Format = 'oci' | 'docker';

const formats = {
  oci: {
    manifest: manifestMediaTypes['oci-manifest'],
    config: 'application/vnd.oci.image.config.v1+json',
    layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
    index: manifestMediaTypes['oci-index'],
  },
  docker: {
    manifest: manifestMediaTypes['docker-manifest'],
    config: 'application/vnd.docker.container.image.v1+json',
    layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
    index: manifestMediaTypes['docker-list'],
  },
} as const;

async function pushContent(api: RegistryApi, repository: string, tag: string, kind: ContentKind): Promise<string> {
  const format: Format = kind.startsWith('oci') ? 'oci' : 'docker';
  const types = formats[format];
  if (kind === 'oci-manifest' || kind === 'docker-manifest') {
    const image = await uploadImage(api, repository, format, indexPlatforms[0] ?? { os: 'linux', architecture: 'amd64' });
    return api.putManifest(repository, tag, types.manifest, image.bytes);
  }
  const manifests: unknown[] = [];
  for (const platform of indexPlatforms) {
    const image = await uploadImage(api, repository, format, platform);
    // The index must only name manifests the repository already holds.
    const digest = await api.putManifest(repository, image.digest, types.manifest, image.bytes);
    manifests.push({ mediaType: types.manifest, digest, size: image.bytes.length, platform: { architecture: platform.architecture, os: platform.os } });
  }
  const index = json({ schemaVersion: 2, mediaType: types.index, manifests });
  return api.putManifest(repository, tag, types.index, index);
}

/** Uploads a one-layer image whose config carries a nonce, so every push yields new digests. */
async function uploadImage(
  api: RegistryApi,
  repository: string,
  format: Format,
  platform: { readonly os: string; readonly architecture: string },
): Promise<{ readonly bytes: Buffer; readonly digest: string }> {
  const types = formats[format];
  const nonce = randomBytes(16).toString('hex');
  const tar = tarOneFile('nonce.txt', Buffer.from(`${nonce}\n`));
  const layer = gzipSync(tar);
  const config = json({
    architecture: platform.architecture,
    os: platform.os,
    created: new Date().toISOString(),
    config: { Labels: { 'org.tagpin.test.nonce': nonce } },
    rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
  });
  const layerDescriptor: Descriptor = { mediaType: types.layer, digest: await api.uploadBlob(repository, layer), size: layer.length };
  const configDescriptor: Descriptor = { mediaType: types.config, digest: await api.uploadBlob(repository, config), size: config.length };
  const bytes = json({ schemaVersion: 2, mediaType: types.manifest, config: configDescriptor, layers: [layerDescriptor] });
  // Computed only to address the upload by digest; tests compare against what the registry reports.
  return { bytes, digest: sha256(bytes) };
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A POSIX ustar archive holding one regular file. */
function tarOneFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const octal = (value: number, width: number): string => `${value.toString(8).padStart(width - 1, '0')}\0`;
  header.write(name, 0, 100, 'utf8');
  header.write(octal(0o644, 8), 100, 'ascii');
  header.write(octal(0, 8), 108, 'ascii');
  header.write(octal(0, 8), 116, 'ascii');
  header.write(octal(content.length, 12), 124, 'ascii');
  header.write(octal(0, 12), 136, 'ascii');
  header.write('        ', 148, 'ascii');
  header.write('0', 156, 'ascii');
  header.write('ustar\u000000', 257, 'ascii');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

/** A plain-HTTP registry holding one image, `demo/app:v1` (an OCI manifest), with the digest the registry reported for it. */
export async function startAppRegistry(): Promise<{ readonly registry: TestRegistry; readonly image: string; readonly digest: string }> {
  requireRegistryBinary();
  const registry = await startRegistry('http');
  const digest = await registry.push('demo/app', 'v1', 'oci-manifest');
  return { registry, image: `${registry.host}/demo/app:v1`, digest };
}
