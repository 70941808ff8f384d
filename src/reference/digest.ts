// Digest validation: the grammar, the algorithms OCI registers, and their exact encodings.
import { digestRegexp } from './grammar.ts';

/**
 * The algorithms the OCI image spec registers (descriptor.md, "Registered algorithms"), with the
 * exact number of lowercase hex characters each needs. go-digest also knows sha384, but a digest
 * OCI does not register is one a conformant registry need not serve, so tagpin neither writes nor
 * accepts it: the registry client and the reference parser share this one table.
 */
export const DIGEST_HEX_LENGTHS: Readonly<Record<string, number>> = { sha256: 64, sha512: 128 };

/** The rule `digest` breaks, as a phrase for a message, or undefined when it is a valid digest. */
export function digestProblem(digest: string): string | undefined {
  if (digest === '') return 'digest is empty';
  const colon = digest.indexOf(':');
  const algorithm = colon === -1 ? digest : digest.slice(0, colon);
  const encoded = colon === -1 ? '' : digest.slice(colon + 1);
  const length = Object.hasOwn(DIGEST_HEX_LENGTHS, algorithm) ? DIGEST_HEX_LENGTHS[algorithm] : undefined;
  if (length !== undefined) {
    // Checked before the general grammar so a short or uppercase sha256 gets the precise rule.
    if (encoded.length !== length || !/^[a-f0-9]+$/.test(encoded)) {
      return `${algorithm} digest must be ${String(length)} lowercase hex characters after "${algorithm}:"`;
    }
    return undefined;
  }
  if (!digestRegexp.test(digest)) return 'digest must be algorithm:hex (e.g. sha256: and 64 hex characters)';
  return `digest algorithm "${algorithm.slice(0, 32)}" is not registered by OCI (use sha256 or sha512)`;
}

/** Whether `digest` is `sha256:` or `sha512:` followed by the right number of lowercase hex characters. */
export function isValidDigest(digest: string): boolean {
  return digestProblem(digest) === undefined;
}
