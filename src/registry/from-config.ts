// Builds the registry client and the configured credentials from `registries.*` and `cache.*`,
// reading the files those keys name; shared by the CLI and the server.
import { resolve } from 'node:path';
import { parseYaml, readSettingFile } from '../config/index.ts';
import type { Config, CredentialProvidersConfig } from '../config/index.ts';
import { checkPluginBinaries, createProviderKeyring, dockerConfigKeyring, emptyKeyring, mergeKeyrings, parseProviderConfig } from '../credentials/index.ts';
import type { Keyring } from '../credentials/index.ts';
import { ConfigError, describeError } from '../errors/index.ts';
import { CLI_TRUST_HINTS, SERVER_TRUST_HINTS } from './address.ts';
import { RegistryClient } from './client.ts';
import type { ProxySummary } from './proxy.ts';
import type { RegistryObserver, Resolver } from './types.ts';

/** A registry client and the node-level keyring: `registries.dockerConfig`, then `registries.credentialProviders`. */
export interface RegistryAccess {
  readonly resolver: Resolver;
  readonly keyring: Keyring;
  /** The proxies of the environment, for the start-up log; undefined when requests go directly. */
  readonly proxy: ProxySummary | undefined;
}

/**
 * Reads `registries.caFile`, `registries.dockerConfig` and `registries.credentialProviders`, and the
 * proxy variables of `options.env` (default `process.env`), and builds the client and the keyring.
 * Credential helpers and plugins are only checked here, never run.
 * @throws ConfigError naming the key and the file when one cannot be read or parsed, or the variable
 *   whose proxy URL is malformed
 */
export async function openRegistryAccess(
  config: Pick<Config, 'registries' | 'cache'>,
  options: {
    readonly observer?: RegistryObserver;
    readonly caller: 'server' | 'cli';
    readonly env?: Readonly<Record<string, string | undefined>>;
  },
): Promise<RegistryAccess> {
  const { observer, caller } = options;
  const { registries } = config;
  const ca = registries.caFile === null ? undefined : await readSettingFile('registries.caFile', registries.caFile);
  const keyrings = [await loadKeyring(registries.dockerConfig), await loadProviders(registries.credentialProviders)];
  const keyring = mergeKeyrings(...keyrings.filter((k) => k !== emptyKeyring));
  const resolver = new RegistryClient({
    insecure: registries.insecure,
    allow: registries.allow,
    privateHosts: registries.privateHosts,
    mirrors: registries.mirrors,
    // The CLI's user names the registries, so loopback and private ones need no listing there;
    // the server's images come from anyone who may create a Pod.
    unlistedReach: caller === 'cli' ? 'private' : 'public',
    trust: caller === 'cli' ? CLI_TRUST_HINTS : SERVER_TRUST_HINTS,
    cache: config.cache,
    proxyEnv: options.env ?? process.env,
    ...(observer === undefined ? {} : { observer }),
    ...(ca === undefined ? {} : { ca }),
  });
  return { resolver, keyring, proxy: resolver.proxy };
}

async function loadKeyring(path: string | null): Promise<Keyring> {
  if (path === null) return emptyKeyring;
  const text = await readSettingFile('registries.dockerConfig', path);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`registries.dockerConfig ${path}: not JSON: ${describeError(error)}`, { where: path, cause: error });
  }
  return dockerConfigKeyring(document, path);
}

async function loadProviders(files: CredentialProvidersConfig | null): Promise<Keyring> {
  if (files === null) return emptyKeyring;
  const key = 'registries.credentialProviders.config';
  const document = parseYaml(await readSettingFile(key, files.config), files.config, key);
  const setup = { file: files.config, binDir: resolve(files.binDir), providers: parseProviderConfig(document, files.config) };
  await checkPluginBinaries(setup);
  return createProviderKeyring(setup);
}
