// Docker config and pull-secret credentials, matched to images with kubelet's keyring rules (pure).
import { parseDockerConfigEntries } from './dockerconfig.ts';
import { createKeyring } from './keyring.ts';
import type { StaticKeyring } from './types.ts';

export type { Credential, Keyring, KeyringContext, StaticKeyring } from './types.ts';
export { parseDockerConfigEntries } from './dockerconfig.ts';
export { createKeyMatcher, createKeyring, mergeKeyrings, parseKeyLocation } from './keyring.ts';
export type { Location } from './keyring.ts';
export { credentialFingerprint } from './fingerprint.ts';

/**
 * Builds a keyring from a docker `config.json` (`{"auths": {...}}`) or a legacy `.dockercfg`
 * (top-level map). `source` labels where it came from, for messages. `document` is parsed JSON or its text.
 * @throws InputError when the document is not a docker config
 */
export function parseDockerConfig(document: unknown, source: string): StaticKeyring {
  return createKeyring(parseDockerConfigEntries(document, source));
}

/** A keyring with no credentials. */
export const emptyKeyring: StaticKeyring = createKeyring([]);
