// Docker config and pull-secret credentials, matched to images with kubelet's keyring rules (pure).
import type { Credential, Keyring } from './types.ts';

export type { Credential, Keyring } from './types.ts';

/**
 * Builds a keyring from a docker `config.json` (`{"auths": {...}}`) or a legacy `.dockercfg`
 * (top-level map). `source` labels where it came from, for messages.
 * @throws InputError when the document is not a docker config
 */
export function parseDockerConfig(document: unknown, source: string): Keyring {
  throw new Error(`not implemented ${typeof document} ${source}`);
}

/** A keyring that consults each of `keyrings` and returns all their matches, most specific first. */
export function mergeKeyrings(...keyrings: readonly Keyring[]): Keyring {
  throw new Error(`not implemented ${keyrings.length}`);
}

/** A keyring with no credentials. */
export const emptyKeyring: Keyring = { lookup: (): readonly Credential[] => [] };
