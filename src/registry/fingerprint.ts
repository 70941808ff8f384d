// Stable, non-reversible identities for credentials, used to scope cached digests and tokens.
import { createHmac, randomBytes } from 'node:crypto';
import type { Credential } from '../credentials/index.ts';

/** The fingerprint of "no credentials". */
export const ANONYMOUS = 'anonymous';

/** Per-process key: fingerprints cannot be matched against guessed passwords offline, nor across processes. */
const KEY = randomBytes(32);

/** A short identity for `credential` (or `ANONYMOUS`): equal secrets give equal fingerprints; the secret is not recoverable. */
export function fingerprint(credential: Credential | undefined): string {
  if (credential === undefined) return ANONYMOUS;
  const material = JSON.stringify([credential.username ?? '', credential.password ?? '', credential.identityToken ?? '']);
  return createHmac('sha256', KEY).update(material).digest('hex').slice(0, 32);
}
