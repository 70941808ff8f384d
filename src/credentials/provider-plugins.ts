// kubelet credential provider plugins: the credentialprovider.kubelet.k8s.io/v1 exec protocol, run
// for the images each provider's matchImages covers, with kubelet's cache by image, registry or globally.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SingleFlight, TtlCache } from '../cache/index.ts';
import { ConfigError, RegistryError, RegistryErrorCode } from '../errors/index.ts';
import { isRecord } from '../json/index.ts';
import { EXEC_TIMEOUT_MS, describeExit, joinRun, runProgram } from './exec.ts';
import type { ExecResult } from './exec.ts';
import { createKeyMatcher, createKeyring } from './keyring.ts';
import { PROVIDER_API_VERSION, parseGoDuration } from './provider-config.ts';
import type { ProviderSpec } from './provider-config.ts';
import type { Credential, Keyring, KeyringContext, StaticKeyring } from './types.ts';

/** Answers kept per provider; a hostile image list cannot grow the cache past it. */
const MAX_CACHED_ANSWERS = 1000;

const CACHE_KEY_TYPES = ['Image', 'Registry', 'Global'] as const;
type CacheKeyType = (typeof CACHE_KEY_TYPES)[number];

/** The providers of one CredentialProviderConfig and where their plugins are. */
export interface ProviderSetup {
  /** The CredentialProviderConfig file, for messages. */
  readonly file: string;
  /** The directory holding each plugin under its provider's name. */
  readonly binDir: string;
  readonly providers: readonly ProviderSpec[];
}

/** Options of the provider keyring, for tests. */
export interface ProviderOptions {
  /** @default EXEC_TIMEOUT_MS */
  readonly timeoutMs?: number;
  /** The environment the providers' `env` is added to. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Checks that every provider's plugin is an executable file in the bin directory, as kubelet does
 * when it starts.
 * @throws ConfigError naming the directory, the provider and the config file
 */
export async function checkPluginBinaries(setup: ProviderSetup): Promise<void> {
  const where = 'registries.credentialProviders.binDir';
  const isDirectory = await stat(setup.binDir).then((s) => s.isDirectory(), () => false);
  if (!isDirectory) throw new ConfigError(`${where} ${setup.binDir}: not a directory; point it at the directory holding the plugins`, { where });
  for (const spec of setup.providers) {
    const program = join(setup.binDir, spec.name);
    const usable = await access(program, constants.X_OK).then(() => stat(program).then((s) => s.isFile()), () => false);
    if (!usable) {
      throw new ConfigError(
        `${where} ${setup.binDir}: no executable ${spec.name} for ${spec.field} of ${setup.file}; install the plugin there or remove the provider`,
        { where },
      );
    }
  }
}

/**
 * A keyring that asks each provider whose `matchImages` covers the image, in config order, and
 * returns the credentials of its answer that match the image. Answers are cached as the plugin
 * says (`cacheKeyType`, `cacheDuration`; without one `defaultCacheDuration`; 0 not at all);
 * concurrent lookups of one registry share one run (and ask again for an image whose answer was
 * for another image only, `cacheKeyType: Image`).
 */
export function createProviderKeyring(setup: ProviderSetup, options: ProviderOptions = {}): Keyring {
  const plugins = setup.providers.map((spec) => new Plugin(spec, setup, options.timeoutMs ?? EXEC_TIMEOUT_MS, options.env ?? process.env));
  return {
    async lookup(image: string, context: KeyringContext): Promise<readonly Credential[]> {
      const found = await Promise.all(plugins.filter((plugin) => plugin.covers(image)).map((plugin) => plugin.credentials(image, context)));
      return found.flat();
    },
  };
}

/** What a plugin answered about `image`, read. */
interface Answer {
  readonly image: string;
  readonly keyring: StaticKeyring;
  readonly cacheKeyType: CacheKeyType;
  /** undefined: the provider's default. */
  readonly cacheMs: number | undefined;
}

class Plugin {
  readonly #spec: ProviderSpec;
  readonly #program: string;
  readonly #label: string;
  readonly #timeoutMs: number;
  readonly #env: NodeJS.ProcessEnv;
  readonly #covers: (image: string) => boolean;
  // Every entry carries the duration its answer was given.
  readonly #answers = new TtlCache<StaticKeyring>(0, MAX_CACHED_ANSWERS);
  readonly #flights = new SingleFlight<Answer>();

  constructor(spec: ProviderSpec, setup: ProviderSetup, timeoutMs: number, env: NodeJS.ProcessEnv) {
    this.#spec = spec;
    this.#program = join(setup.binDir, spec.name);
    this.#label = `${spec.field} in ${setup.file}`;
    this.#timeoutMs = timeoutMs;
    this.#env = env;
    this.#covers = createKeyMatcher(spec.matchImages);
  }

  covers(image: string): boolean {
    return this.#covers(image);
  }

  async credentials(image: string, context: KeyringContext): Promise<readonly Credential[]> {
    const registry = image.split('/')[0] ?? image;
    const cached = this.#cached(image, registry);
    if (cached !== undefined) return cached.match(image);
    // One run per registry at a time, since most plugins answer for the whole registry (cacheKeyType
    // Registry or Global); an answer meant for another image only (Image) is asked again for this one.
    let answer = await this.#join(`registry\0${registry}`, image, registry, context);
    if (answer.cacheKeyType === 'Image' && answer.image !== image) {
      answer = await this.#join(`image\0${image}`, image, registry, context);
    }
    return answer.keyring.match(image);
  }

  #cached(image: string, registry: string): StaticKeyring | undefined {
    return (
      this.#answers.get(cacheKey('Image', image, registry)) ??
      this.#answers.get(cacheKey('Registry', image, registry)) ??
      this.#answers.get(cacheKey('Global', image, registry))
    );
  }

  /** Joins (or starts) the run of flight `key`, which asks about `image` and caches the answer. */
  #join(key: string, image: string, registry: string, context: KeyringContext): Promise<Answer> {
    return joinRun(
      this.#flights,
      key,
      async (signal) => {
        const answer = this.#read(image, registry, await this.#run(image, signal));
        this.#answers.set(cacheKey(answer.cacheKeyType, image, registry), answer.keyring, answer.cacheMs ?? this.#spec.defaultCacheMs);
        return answer;
      },
      context,
      { program: `credential provider ${this.#spec.name}`, subject: image, registry, where: this.#label },
    );
  }

  #run(image: string, signal: AbortSignal): Promise<ExecResult> {
    const request = { apiVersion: this.#spec.apiVersion, kind: 'CredentialProviderRequest', image };
    // As kubelet does: tagpin's environment, with the provider's `env` on top.
    const env = { ...this.#env, ...this.#spec.env };
    return runProgram({ program: this.#program, args: this.#spec.args, input: JSON.stringify(request), env, timeoutMs: this.#timeoutMs, signal });
  }

  #read(image: string, registry: string, result: ExecResult): Answer {
    const name = this.#spec.name;
    const failure = (what: string): RegistryError =>
      new RegistryError(RegistryErrorCode.credentials, `credential provider ${name} ${what} (${this.#label})`, { registry });
    switch (result.outcome) {
      case 'missing':
        throw failure(`cannot run: ${this.#program} not found; install the plugin there or remove the provider`);
      case 'not-executable':
        throw failure(`cannot run: ${this.#program} is not executable`);
      case 'timed-out':
        throw failure(`did not answer within ${String(this.#timeoutMs / 1000)} s for ${image} and was stopped`);
      case 'cancelled':
        throw failure(`was stopped: no lookup waits for it any more`);
      case 'too-much-output':
        throw failure(`printed more than a credential answer for ${image} and was stopped`);
      case 'exited':
        break;
    }
    if (result.code !== 0) {
      throw failure(`failed for ${image} (${describeExit(result.code, result.stderr)})`);
    }
    const answer = parseResponse(result.stdout, this.#spec.apiVersion, `credential provider ${name}`);
    if (typeof answer === 'string') throw failure(`answered ${image} with no ${PROVIDER_API_VERSION} CredentialProviderResponse: ${answer}`);
    return { image, ...answer };
  }
}

function cacheKey(type: CacheKeyType, image: string, registry: string): string {
  if (type === 'Image') return `image\0${image}`;
  if (type === 'Registry') return `registry\0${registry}`;
  return 'global';
}

/** The answer in a plugin's stdout, or what is wrong with it; never a piece of the output itself. */
function parseResponse(stdout: string, apiVersion: string, source: string): Omit<Answer, 'image'> | string {
  let response: unknown;
  try {
    response = JSON.parse(stdout);
  } catch {
    return 'its output is not JSON';
  }
  if (!isRecord(response)) return 'its output is not a JSON object';
  if (response['apiVersion'] !== apiVersion) return `apiVersion is not ${apiVersion}`;
  if (response['kind'] !== 'CredentialProviderResponse') return 'kind is not CredentialProviderResponse';
  const cacheKeyType = CACHE_KEY_TYPES.find((type) => type === response['cacheKeyType']);
  if (cacheKeyType === undefined) return `cacheKeyType is not one of ${CACHE_KEY_TYPES.join(', ')}`;
  const duration = response['cacheDuration'];
  let cacheMs: number | undefined;
  if (duration !== undefined && duration !== null) {
    cacheMs = typeof duration === 'string' ? parseGoDuration(duration) : undefined;
    if (cacheMs === undefined || cacheMs < 0) return 'cacheDuration is not a duration of 0 or more';
  }
  const auth = response['auth'] ?? {};
  if (!isRecord(auth)) return 'auth is not a map of image patterns to {username, password}';
  const credentials: Credential[] = [];
  for (const [key, entry] of Object.entries(auth)) {
    if (!isRecord(entry)) return 'an auth entry is not {username, password}';
    const username = entry['username'] ?? '';
    const password = entry['password'] ?? '';
    if (typeof username !== 'string' || typeof password !== 'string') return 'an auth entry has a username or password that is not a string';
    if (username !== '' || password !== '') credentials.push({ username, password, source, key });
  }
  return { keyring: createKeyring(credentials), cacheKeyType, cacheMs };
}
