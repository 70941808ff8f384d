// The one glob engine: Go's filepath.Match semantics (`*`, `?`, `[a-z]`, `[^x]`, `\` escapes) in linear time.
//
// Three kinds of pattern use it: kubelet's docker config keys (one glob per host label, exactly as
// kubelet's filepath.Match does it: no separator inside a label, `^` negates), tagpin's host globs
// (`registries.allow`/`insecure`: `*` stays inside one DNS label, `!` negates too, case ignored) and
// `exclude.images` globs (`*` crosses `/` and `:`).

type Token =
  | { readonly kind: 'star' }
  | { readonly kind: 'any' }
  | { readonly kind: 'literal'; readonly char: string }
  | { readonly kind: 'class'; readonly negated: boolean; readonly ranges: readonly (readonly [string, string])[] };

/** A compiled glob; `undefined` from `compileGlob` means the pattern is malformed and matches nothing. */
export interface Glob {
  readonly tokens: readonly Token[];
  /** A character `*` and `?` never match (filepath.Match's separator); '' for none. */
  readonly separator: string;
}

/** Dialect options of `compileGlob`. */
export interface GlobOptions {
  /** A character `*`, `?` and negated classes never match. @default '' (none) */
  readonly separator?: string;
  /** Also read `[!x]` as a negated class, as shells do. @default false (only `[^x]`, as Go) */
  readonly bangNegates?: boolean;
}

/** Compiles `pattern`, or returns undefined when it is malformed (as filepath.Match reports ErrBadPattern). */
export function compileGlob(pattern: string, options: GlobOptions = {}): Glob | undefined {
  const tokens: Token[] = [];
  let i = 0;
  const next = (): string | undefined => {
    let c = pattern[i++];
    if (c === '\\') c = pattern[i++];
    return c;
  };
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '*') {
      i++;
      if (tokens.at(-1)?.kind !== 'star') tokens.push({ kind: 'star' });
    } else if (c === '?') {
      i++;
      tokens.push({ kind: 'any' });
    } else if (c === '[') {
      i++;
      const negated = pattern[i] === '^' || (options.bangNegates === true && pattern[i] === '!');
      if (negated) i++;
      const ranges: (readonly [string, string])[] = [];
      while (pattern[i] !== ']' || ranges.length === 0) {
        if (i >= pattern.length || pattern[i] === '-' || (pattern[i] === ']' && ranges.length === 0)) return undefined;
        const lo = next();
        if (lo === undefined) return undefined;
        let hi = lo;
        if (pattern[i] === '-') {
          i++;
          if (pattern[i] === '-' || pattern[i] === ']') return undefined;
          const h = next();
          if (h === undefined) return undefined;
          hi = h;
        }
        ranges.push([lo, hi]);
      }
      i++;
      tokens.push({ kind: 'class', negated, ranges });
    } else {
      const literal = next();
      if (literal === undefined) return undefined;
      tokens.push({ kind: 'literal', char: literal });
    }
  }
  return { tokens, separator: options.separator ?? '' };
}

function matchesOne(token: Token, char: string, separator: string): boolean {
  switch (token.kind) {
    case 'any':
      return char !== separator;
    case 'literal':
      return token.char === char;
    case 'class':
      if (token.negated && char === separator) return false;
      return token.ranges.some(([lo, hi]) => lo <= char && char <= hi) !== token.negated;
    case 'star':
      return false;
  }
}

/**
 * Whether `glob` matches all of `text`. Backtracks only to the last `*`, so the cost is at most
 * pattern length × text length whatever the pattern (a pull secret's keys are untrusted input).
 */
export function globMatches(glob: Glob, text: string): boolean {
  const { tokens, separator } = glob;
  let t = 0;
  let s = 0;
  let star = -1;
  let starText = 0;
  while (s < text.length) {
    const token = tokens[t];
    const char = text.charAt(s);
    if (token !== undefined && token.kind === 'star') {
      star = t++;
      starText = s;
    } else if (token !== undefined && matchesOne(token, char, separator)) {
      t++;
      s++;
    } else if (star !== -1 && text.charAt(starText) !== separator) {
      // The `*` takes one more character, unless that is the separator it may not cross.
      t = star + 1;
      s = ++starText;
    } else {
      return false;
    }
  }
  while (tokens[t]?.kind === 'star') t++;
  return t === tokens.length;
}
