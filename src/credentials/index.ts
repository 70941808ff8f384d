// Registry credentials matched to images with kubelet's keyring rules: docker config and pull-secret
// entries (pure), docker credential helpers and kubelet credential provider plugins (programs run on demand).
import { parseDockerConfigEntries } from './dockerconfig.ts';
import { createHelperKeyring, parseHelperSettings } from './helpers.ts';
import type { HelperOptions } from './helpers.ts';
import { createKeyring } from './keyring.ts';
import type { Keyring, StaticKeyring } from './types.ts';

export type { Credential, Keyring, KeyringContext, StaticKeyring } from './types.ts';
export { parseDockerConfigEntries } from './dockerconfig.ts';
export { createKeyMatcher, createKeyring, mergeKeyrings, parseKeyLocation } from './keyring.ts';
export type { Location } from './keyring.ts';
export { credentialFingerprint } from './fingerprint.ts';
export { EXEC_TIMEOUT_MS } from './exec.ts';
export { HELPER_CACHE_MS, parseHelperSettings } from './helpers.ts';
export type { HelperOptions, HelperSettings } from './helpers.ts';
export { CONFIG_API_VERSION, PROVIDER_API_VERSION, parseGoDuration, parseProviderConfig } from './provider-config.ts';
export type { ProviderSpec } from './provider-config.ts';
export { checkPluginBinaries, createProviderKeyring } from './provider-plugins.ts';
export type { ProviderOptions, ProviderSetup } from './provider-plugins.ts';

/**
 * Builds a keyring from a docker `config.json` (`{"auths": {...}}`) or a legacy `.dockercfg`
 * (top-level map), its entries only: what a pull secret may hold. `source` labels where it came
 * from, for messages. `document` is parsed JSON or its text.
 * @throws InputError when the document is not a docker config
 */
export function parseDockerConfig(document: unknown, source: string): StaticKeyring {
  return createKeyring(parseDockerConfigEntries(document, source));
}

/**
 * The keyring of a docker `config.json` tagpin itself was given (`registries.dockerConfig`, the
 * CLI's docker config): its `auths`, and the helpers `credHelpers` and `credsStore` name, which run
 * as `docker-credential-NAME get` from PATH. Never use it for pull secrets.
 * @throws InputError when the document is not a docker config or names a helper badly
 */
export function dockerConfigKeyring(document: unknown, source: string, options: HelperOptions = {}): Keyring {
  const entries = parseDockerConfig(document, source);
  const settings = parseHelperSettings(document, source);
  if (settings.credHelpers.size === 0 && settings.credsStore === undefined) return entries;
  return createHelperKeyring(entries, settings, source, options);
}

/** A keyring with no credentials. */
export const emptyKeyring: StaticKeyring = createKeyring([]);
