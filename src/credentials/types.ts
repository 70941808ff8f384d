// The credential shapes this folder implements; the admission core declares them (admission/ports.ts).
export type { Credential, Keyring } from '../admission/index.ts';
