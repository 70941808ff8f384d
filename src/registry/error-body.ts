// What a registry says about a failure: the OCI error body, parsed and quoted safely (pure).
import { parseJsonBytes } from '../json/index.ts';

/** The first entry of an OCI error body `{"errors":[{"code","message","detail"}]}`; `detail` is never kept. */
export interface RegistrySaid {
  /** `NAME_UNKNOWN`, `MANIFEST_UNKNOWN`, `DENIED`, `TOOMANYREQUESTS`, `UNAUTHORIZED`, … */
  readonly code: string;
  /** The registry's own words, as sent (quote them with `quoteSaid`). */
  readonly message: string;
}

/** A quoted registry message is cut here, so one line stays readable in a log or a kubectl error. */
const MAX_QUOTED_CHARS = 200;

/** The registry's error in `bytes`, or undefined when they are not an OCI error body. */
export function parseErrorBody(bytes: Uint8Array | undefined): RegistrySaid | undefined {
  if (bytes === undefined || bytes.length === 0) return undefined;
  const errors = (parseJsonBytes(bytes)?.value as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return undefined;
  const first: unknown = errors[0];
  const code = (first as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string' || !/^[A-Z][A-Z0-9_]{0,63}$/.test(code)) return undefined;
  const message = (first as { message?: unknown }).message;
  return { code, message: typeof message === 'string' ? message : '' };
}

/**
 * `DENIED: requested access to the resource is denied`: the code and the registry's message on one line,
 * at most 200 characters. Registry messages are not secrets, but a registry may echo what it was sent,
 * so `secrets` (the Authorization sent) and anything shaped like a credential are blanked out.
 */
export function quoteSaid(said: RegistrySaid, secrets: readonly string[] = []): string {
  let text = said.message.replace(/[\s\p{Cc}\p{Cf}]+/gu, ' ').trim();
  for (const secret of secretForms(secrets)) text = text.replaceAll(secret, '[redacted]');
  text = text
    .replace(/\b(Bearer|Basic)\s+([A-Za-z0-9._~+/=-]+)/gi, (whole, scheme: string, value: string) =>
      looksLikeCredential(value) ? `${scheme} [redacted]` : whole,
    )
    .replace(/\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[redacted]');
  const quoted = text === '' ? said.code : `${said.code}: ${text}`;
  return quoted.length <= MAX_QUOTED_CHARS ? quoted : `${quoted.slice(0, MAX_QUOTED_CHARS - 1)}…`;
}

/** A token68 value rather than a word: long, and with a digit, a symbol or a capital past its first letter. */
function looksLikeCredential(value: string): boolean {
  return value.length >= 8 && /[0-9+/=._~-]|.[A-Z]/.test(value);
}

/** An Authorization value, its credential part, and for Basic the decoded pair and password. */
function secretForms(authorizations: readonly string[]): readonly string[] {
  const forms: string[] = [];
  for (const value of authorizations) {
    const credential = value.replace(/^\S+\s+/, '');
    forms.push(value, credential);
    if (/^basic\s/i.test(value)) {
      const pair = Buffer.from(credential, 'base64').toString('utf8');
      const colon = pair.indexOf(':');
      forms.push(pair);
      if (colon >= 0) forms.push(pair.slice(colon + 1));
    }
  }
  // Longest first, so a password inside the pair does not leave the rest of the pair behind.
  return forms.filter((f) => f.length >= 4).sort((a, b) => b.length - a.length);
}
