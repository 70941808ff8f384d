// docker credential helpers (`credHelpers`, `credsStore` of a config.json tagpin was given): which
// helper answers for an image, running `docker-credential-NAME get`, and caching its answers.
import { SingleFlight, TtlCache } from '../cache/index.ts';
import { InputError, RegistryError, RegistryErrorCode } from '../errors/index.ts';
import { isRecord } from '../json/index.ts';
import { DOCKER_HUB, isDockerHubHost } from '../reference/index.ts';
import { EXEC_TIMEOUT_MS, describeExit, joinRun, runProgram } from './exec.ts';
import type { ExecResult } from './exec.ts';
import { parseKeyLocation } from './keyring.ts';
import type { Credential, Keyring, KeyringContext, StaticKeyring } from './types.ts';

/** How long a helper's answer, credentials or "not found", is reused for the same registry. */
export const HELPER_CACHE_MS = 5 * 60 * 1000;

/** The server URL docker hands a helper for Docker Hub (docker's `IndexServer`). */
const DOCKER_HUB_SERVER = 'https://index.docker.io/v1/';

/** The user name by which a helper says its secret is an identity token. */
const IDENTITY_TOKEN_USER = '<token>';

/** A helper name: a suffix of `docker-credential-`, never a path. */
const HELPER_NAME = /^[A-Za-z0-9._-]+$/;

/** One helper, and the setting that named it, for messages. */
interface Helper {
  readonly name: string;
  /** `credHelpers["gcr.io"]` or `credsStore`. */
  readonly setting: string;
}

/** The helpers a docker config names. */
export interface HelperSettings {
  /** Registry (`gcr.io`, `127.0.0.1:5000`, Docker Hub as `docker.io`) → its helper. */
  readonly credHelpers: ReadonlyMap<string, Helper>;
  readonly credsStore: Helper | undefined;
}

/** Options of the helper keyring, for tests. */
export interface HelperOptions {
  /** @default EXEC_TIMEOUT_MS */
  readonly timeoutMs?: number;
  /** @default HELPER_CACHE_MS */
  readonly cacheMs?: number;
  /** The helpers' environment, whose PATH finds them. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

function fail(source: string, where: string, rule: string): InputError {
  return new InputError(`docker config ${source}: ${where} ${rule}`, { where });
}

function helperName(value: unknown, where: string, source: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || !HELPER_NAME.test(value)) {
    throw fail(source, where, 'must name a credential helper: letters, digits, ".", "_" and "-" (docker-credential-NAME is run from PATH)');
  }
  return value;
}

/** `gcr.io`, `127.0.0.1:5000`, `[::1]:5000`; Docker Hub's names as `docker.io`. */
function registryKey(host: string, port: string): string {
  if (port === '' && isDockerHubHost(host)) return DOCKER_HUB;
  const bracketed = host.includes(':') ? `[${host}]` : host;
  return port === '' ? bracketed : `${bracketed}:${port}`;
}

/**
 * Reads `credHelpers` and `credsStore` of a parsed docker config.json. An empty name means none, as
 * for docker. Only configs tagpin itself is given are read this way, never pull secrets: kubelet
 * ignores helpers there, and a Pod's author must not choose programs for tagpin to run.
 * @throws InputError naming `source` and the key when a name is not a plain helper name or a key names no host
 */
export function parseHelperSettings(document: unknown, source: string): HelperSettings {
  if (!isRecord(document)) return { credHelpers: new Map(), credsStore: undefined };
  const credHelpers = new Map<string, Helper>();
  const helpers = document['credHelpers'];
  if (helpers !== undefined && helpers !== null) {
    if (!isRecord(helpers)) throw fail(source, 'credHelpers', 'is not an object');
    for (const [key, value] of Object.entries(helpers)) {
      const setting = `credHelpers[${JSON.stringify(key)}]`;
      const name = helperName(value, setting, source);
      const location = parseKeyLocation(key);
      if (location === undefined || location.path !== '') throw fail(source, setting, 'does not name a registry host (host[:port])');
      if (name !== undefined) credHelpers.set(registryKey(location.host, location.port), { name, setting });
    }
  }
  const store = helperName(document['credsStore'], 'credsStore', source);
  return { credHelpers, credsStore: store === undefined ? undefined : { name: store, setting: 'credsStore' } };
}

/** The registry of a normalized image name and the server URL docker would hand a helper for it. */
function registryOf(image: string): { readonly key: string; readonly serverUrl: string } | undefined {
  const slash = image.indexOf('/');
  if (slash <= 0) return undefined;
  const location = parseKeyLocation(image.slice(0, slash));
  if (location === undefined) return undefined;
  const key = registryKey(location.host, location.port);
  return { key, serverUrl: key === DOCKER_HUB ? DOCKER_HUB_SERVER : key };
}

/**
 * A keyring over a docker config that names helpers, choosing as docker does: the image's registry
 * in `credHelpers` is asked of that helper alone; otherwise the `auths` entries that match; and only
 * when none match, `credsStore`. A helper's "credentials not found" means no credential.
 */
export function createHelperKeyring(entries: StaticKeyring, settings: HelperSettings, source: string, options: HelperOptions = {}): Keyring {
  const runner = new HelperRunner(source, options);
  return {
    async lookup(image: string, context: KeyringContext): Promise<readonly Credential[]> {
      const registry = registryOf(image);
      const helper = registry === undefined ? undefined : settings.credHelpers.get(registry.key);
      if (registry !== undefined && helper !== undefined) return runner.get(helper, registry.serverUrl, context);
      const found = entries.match(image);
      if (registry === undefined || found.length > 0 || settings.credsStore === undefined) return found;
      return runner.get(settings.credsStore, registry.serverUrl, context);
    },
  };
}

/** Runs helpers, one run per helper and server at a time, and remembers their answers. */
class HelperRunner {
  readonly #source: string;
  readonly #timeoutMs: number;
  readonly #env: NodeJS.ProcessEnv;
  readonly #answers: TtlCache<readonly Credential[]>;
  readonly #flights = new SingleFlight<readonly Credential[]>();

  constructor(source: string, options: HelperOptions) {
    this.#source = source;
    this.#timeoutMs = options.timeoutMs ?? EXEC_TIMEOUT_MS;
    this.#env = options.env ?? process.env;
    this.#answers = new TtlCache(options.cacheMs ?? HELPER_CACHE_MS, 1000);
  }

  async get(helper: Helper, serverUrl: string, context: KeyringContext): Promise<readonly Credential[]> {
    const key = JSON.stringify([helper.name, serverUrl]);
    const cached = this.#answers.get(key);
    if (cached !== undefined) return cached;
    const program = `docker-credential-${helper.name}`;
    return joinRun(
      this.#flights,
      key,
      async (signal) => {
        const answer = this.#read(helper, serverUrl, await this.#run(program, serverUrl, signal));
        this.#answers.set(key, answer);
        return answer;
      },
      context,
      { program, subject: serverUrl, registry: serverUrl },
    );
  }

  #run(program: string, serverUrl: string, signal: AbortSignal): Promise<ExecResult> {
    // docker hands the server URL without a newline; helpers read all of stdin and trim it.
    return runProgram({ program, args: ['get'], input: serverUrl, env: this.#env, timeoutMs: this.#timeoutMs, signal });
  }

  /** The credential a finished run gave, none for "not found"; a RegistryError naming the helper otherwise. */
  #read(helper: Helper, serverUrl: string, result: ExecResult): readonly Credential[] {
    const program = `docker-credential-${helper.name}`;
    const fix = `remove ${helper.setting} from ${this.#source}`;
    const failure = (message: string): RegistryError => new RegistryError(RegistryErrorCode.credentials, message, { registry: serverUrl });
    switch (result.outcome) {
      case 'missing':
        throw failure(`${program} not found on PATH; install it or ${fix}`);
      case 'not-executable':
        throw failure(`${program} on PATH is not executable; make it executable or ${fix}`);
      case 'timed-out':
        throw failure(`${program} did not answer within ${String(this.#timeoutMs / 1000)} s for ${serverUrl} and was stopped; check it with \`echo ${serverUrl} | ${program} get\` or ${fix}`);
      case 'cancelled':
        throw failure(`${program} was stopped: no lookup waits for it any more`);
      case 'too-much-output':
        throw failure(`${program} printed more than a credential answer for ${serverUrl} and was stopped`);
      case 'exited':
        break;
    }
    if (result.code !== 0) {
      // Helpers print "credentials not found in native keychain" (on stdout, by convention): anonymous.
      if (/credentials not found/i.test(result.stdout) || /credentials not found/i.test(result.stderr)) return [];
      throw failure(`${program} get failed for ${serverUrl} (${describeExit(result.code, result.stderr)}); check it with \`echo ${serverUrl} | ${program} get\` or ${fix}`);
    }
    const credential = parseAnswer(result.stdout, serverUrl, `${program} (${helper.setting} in ${this.#source})`);
    if (credential === undefined) {
      throw failure(`${program} get printed something that is not credentials JSON {"ServerURL","Username","Secret"} for ${serverUrl}`);
    }
    return credential === null ? [] : [credential];
  }
}

/** The credential in a helper's answer; null when it holds none; undefined when it is not the protocol's JSON. */
function parseAnswer(stdout: string, serverUrl: string, source: string): Credential | null | undefined {
  let answer: unknown;
  try {
    answer = JSON.parse(stdout);
  } catch {
    return undefined;
  }
  if (!isRecord(answer)) return undefined;
  const username = answer['Username'] ?? '';
  const secret = answer['Secret'] ?? '';
  if (typeof username !== 'string' || typeof secret !== 'string') return undefined;
  if (username === '' && secret === '') return null;
  if (username === IDENTITY_TOKEN_USER) return { identityToken: secret, source, key: serverUrl };
  return { username, password: secret, source, key: serverUrl };
}
