// Narrowing of parsed JSON and YAML values, shared by every folder that reads untrusted documents.

/** True for a plain object (not null, not an array): the shape of a JSON object after parsing. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `bytes` read as UTF-8 JSON, as `{ value }` (a JSON `null` too), or undefined when they are not JSON. */
export function parseJsonBytes(bytes: Uint8Array): { readonly value: unknown } | undefined {
  try {
    return { value: JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown };
  } catch {
    return undefined;
  }
}
