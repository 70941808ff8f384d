// Walking an error's cause chain (undici wraps socket and TLS errors) for the first link that explains it.

/** The first error in `error`'s cause chain (itself included, at most 8 deep) that passes `test`. */
export function findInChain(error: unknown, test: (e: unknown) => boolean): unknown {
  let current = error;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth += 1) {
    if (test(current)) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The first string `code` in the chain (`ECONNREFUSED`, `CERT_HAS_EXPIRED`), skipping undici's generic `UND_ERR`. */
export function codeInChain(error: unknown): string | undefined {
  const found = findInChain(error, (e) => typeof (e as { code?: unknown }).code === 'string' && (e as { code: string }).code !== 'UND_ERR');
  return found === undefined ? undefined : (found as { code: string }).code;
}

/** The first line of the message of the link carrying `code` (else of `error`). */
export function messageOf(error: unknown, code: string | undefined): string {
  const found = findInChain(error, (e) => code !== undefined && (e as { code?: unknown }).code === code) ?? error;
  const message = found instanceof Error ? found.message : String(found);
  return message.split('\n', 1)[0] ?? message;
}
