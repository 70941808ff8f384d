// Host-label globs with Go's filepath.Match semantics (`*`, `?`, `[a-z]`, `[^x]`, `\` escapes).

type Token =
  | { readonly kind: 'star' }
  | { readonly kind: 'any' }
  | { readonly kind: 'literal'; readonly char: string }
  | { readonly kind: 'class'; readonly negated: boolean; readonly ranges: readonly (readonly [string, string])[] };

/** A compiled glob; `undefined` from `compileGlob` means the pattern is malformed and matches nothing. */
export type Glob = readonly Token[];

/** Compiles `pattern`, or returns undefined when it is malformed (as filepath.Match reports ErrBadPattern). */
export function compileGlob(pattern: string): Glob | undefined {
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
      const negated = pattern[i] === '^';
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
  return tokens;
}

function matchesOne(token: Token, char: string): boolean {
  switch (token.kind) {
    case 'any':
      return true;
    case 'literal':
      return token.char === char;
    case 'class':
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
  let t = 0;
  let s = 0;
  let star = -1;
  let starText = 0;
  while (s < text.length) {
    const token = glob[t];
    if (token !== undefined && token.kind === 'star') {
      star = t++;
      starText = s;
    } else if (token !== undefined && matchesOne(token, text.charAt(s))) {
      t++;
      s++;
    } else if (star !== -1) {
      t = star + 1;
      s = ++starText;
    } else {
      return false;
    }
  }
  while (glob[t]?.kind === 'star') t++;
  return t === glob.length;
}
