// Narrowing of parsed JSON and YAML values, shared by every folder that reads untrusted documents.

/** True for a plain object (not null, not an array): the shape of a JSON object after parsing. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
