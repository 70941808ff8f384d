// A stable, non-reversible identity for a credential, to scope cached results to who could see them.
import { createHash } from 'node:crypto';
import type { Credential } from './types.ts';

/**
 * First 16 hex characters of a sha256 over username, password and identity token: equal for equal
 * secrets whatever their source or key, different when any differs.
 */
export function credentialFingerprint(c: Credential): string {
  // JSON keeps the fields apart, so ("a:b", "c") and ("a", "b:c") differ.
  const material = JSON.stringify(['tagpin-credential', c.username ?? null, c.password ?? null, c.identityToken ?? null]);
  return createHash('sha256').update(material).digest('hex').slice(0, 16);
}
