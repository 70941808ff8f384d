// The checks config validation is built from: each reads one value, names its key path in the error, returns it typed.

/** Thrown inside validation with the key path and rule; turned into a ConfigError naming the source. */
export class Problem extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}

/** Checks one key's value and returns it in its typed form. */
export type Field<T> = (value: unknown, path: string) => T;

export function rejectUnknown(given: Record<string, unknown>, known: readonly string[], prefix: string): void {
  for (const key of Object.keys(given)) {
    if (known.includes(key)) continue;
    const path = join(prefix, key);
    const near = known.find((k) => isNear(k, key));
    const hint = near === undefined ? '' : ` (did you mean ${join(prefix, near)}?)`;
    throw new Problem(path, `unknown key ${path}${hint}`);
  }
}

export function mapping(value: unknown, path: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Map) {
    const what = path === '' ? 'the top level' : path;
    throw new Problem(path, `${what} must be a mapping (got ${describe(value)})`);
  }
  return value as Record<string, unknown>;
}

export function boolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw new Problem(path, `${path} must be true or false (got ${describe(value)})`);
  return value;
}

export function text(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new Problem(path, `${path} must be a non-empty string (got ${describe(value)})`);
  }
  return value;
}

export function nullable<T>(check: Field<T>): Field<T | null> {
  return (value, path) => (value === null ? null : check(value, path));
}

export function oneOf<T extends string>(choices: readonly T[]): Field<T> {
  return (value, path) => {
    if (typeof value === 'string' && (choices as readonly string[]).includes(value)) return value as T;
    throw new Problem(path, `${path} must be one of ${choices.join(', ')} (got ${describe(value)})`);
  };
}

export function integer(min: number, max?: number): Field<number> {
  return (value, path) => {
    const inRange = typeof value === 'number' && Number.isInteger(value) && value >= min && (max === undefined || value <= max);
    if (inRange) return value;
    const rule = max === undefined ? `≥ ${String(min)}` : `${String(min)}–${String(max)}`;
    throw new Problem(path, `${path} must be an integer ${rule} (got ${describe(value)})`);
  };
}

export function list<T>(check: Field<T>): Field<readonly T[]> {
  return (value, path) => {
    if (!Array.isArray(value)) throw new Problem(path, `${path} must be a list (got ${describe(value)})`);
    return value.map((item: unknown, i) => check(item, `${path}[${String(i)}]`));
  };
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

export function join(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`;
}

/** Whether `typed` looks like a slip for `known`: case, a couple of letters, or a longer/shorter form. */
function isNear(known: string, typed: string): boolean {
  const a = known.toLowerCase();
  const b = typed.toLowerCase();
  if (editDistance(a, b) <= 2) return true;
  const common = Math.min(a.length, b.length);
  return common >= 5 && a.slice(0, common - 1) === b.slice(0, common - 1);
}

/** Levenshtein distance, used only to suggest the key a typo meant; keys are short. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
