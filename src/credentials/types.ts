// The credential shapes this folder implements; the admission core declares them (admission/ports.ts).
import type { Credential, Keyring } from '../admission/index.ts';

export type { Credential, Keyring, KeyringContext } from '../admission/index.ts';

/** A keyring whose entries are all known up front: matching is pure, cheap and synchronous. */
export interface StaticKeyring extends Keyring {
  /** The same answer as `lookup`, at once. */
  match(image: string): readonly Credential[];
}
