// RFC 6901 JSON Pointers over plain data, and the pointer patterns (`*` for every array index) of custom kinds.
import { isRecord } from '../json/index.ts';

/** Matches every index of an array in a pointer pattern. */
const ANY_INDEX = '*';

const ARRAY_INDEX = /^(?:0|[1-9][0-9]*)$/;

/**
 * Reads the value at an RFC 6901 pointer; undefined when the path does not exist or the pointer is
 * malformed. Only own properties are followed, so `/__proto__` or `/constructor` find nothing.
 */
export function getAtPointer(object: unknown, pointer: string): unknown {
  if (pointer === '') return object;
  if (!pointer.startsWith('/')) return undefined;
  let current: unknown = object;
  for (const token of pointer.slice(1).split('/')) {
    current = child(current, unescapeToken(token));
    if (current === undefined) return undefined;
  }
  return current;
}

/** Escapes one reference token for a JSON Pointer (`~` → `~0`, `/` → `~1`). */
export function escapePointerToken(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

/**
 * Why `pattern` is not a pointer pattern, or undefined when it is one: a JSON Pointer starting with
 * `/`, no empty segment, `~` only as `~0` or `~1`, and `*` only as a whole segment.
 */
export function pointerPatternProblem(pattern: string): string | undefined {
  if (!pattern.startsWith('/')) return 'must start with "/"';
  for (const token of pattern.slice(1).split('/')) {
    if (token === '') return 'has an empty segment ("//" or a trailing "/")';
    if (/~(?![01])/.test(token)) return 'has a "~" not followed by 0 or 1 (write ~0 for "~" and ~1 for "/")';
    if (token !== ANY_INDEX && token.includes(ANY_INDEX)) return `has "*" inside the segment ${JSON.stringify(token)}; "*" stands alone for every array index`;
  }
  return undefined;
}

/** A pointer pattern taken apart once: unescaped segments, `undefined` for `*`. */
export type PointerPattern = readonly (string | undefined)[];

/** Parses a pattern that `pointerPatternProblem` accepted. */
export function compilePattern(pattern: string): PointerPattern {
  return pattern
    .slice(1)
    .split('/')
    .map((token) => (token === ANY_INDEX ? undefined : unescapeToken(token)));
}

/**
 * Every value `pattern` reaches in `object`, in document order, with its concrete pointer. `*`
 * follows every index of an array (and nothing else); missing paths and `undefined` values yield nothing.
 */
export function matchPattern(object: unknown, pattern: PointerPattern): ReadonlyArray<{ readonly pointer: string; readonly value: unknown }> {
  let found: Array<{ pointer: string; value: unknown }> = [{ pointer: '', value: object }];
  for (const segment of pattern) {
    const next: Array<{ pointer: string; value: unknown }> = [];
    for (const { pointer, value } of found) {
      if (segment === undefined) {
        if (!Array.isArray(value)) continue;
        value.forEach((item: unknown, index) => {
          if (item !== undefined) next.push({ pointer: `${pointer}/${String(index)}`, value: item });
        });
      } else {
        const item = child(value, segment);
        if (item !== undefined) next.push({ pointer: `${pointer}/${escapePointerToken(segment)}`, value: item });
      }
    }
    found = next;
    if (found.length === 0) break;
  }
  return found;
}

function child(value: unknown, key: string): unknown {
  if (Array.isArray(value)) return ARRAY_INDEX.test(key) ? (value[Number(key)] as unknown) : undefined;
  if (isRecord(value)) return Object.hasOwn(value, key) ? value[key] : undefined;
  return undefined;
}

function unescapeToken(token: string): string {
  // Order matters: `~01` must become `~1`, not `/`.
  return token.replaceAll('~1', '/').replaceAll('~0', '~');
}
