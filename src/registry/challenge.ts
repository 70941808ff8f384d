// RFC 7235 WWW-Authenticate parsing: several challenges per header, auth-params as token or quoted-string.

/** One challenge from a `WWW-Authenticate` header. */
export interface Challenge {
  /** Auth scheme, lower-cased (`bearer`, `basic`). */
  readonly scheme: string;
  /** Auth-params with lower-cased names and unquoted values. */
  readonly params: Readonly<Record<string, string>>;
  /** The token68 form (`Negotiate abc==`), when the challenge used it instead of params. */
  readonly token68?: string;
}

/** The challenge tagpin can answer: Basic to the registry, or Bearer through a token realm. */
export type AuthChallenge =
  | { readonly scheme: 'basic'; readonly realm: string | undefined }
  | { readonly scheme: 'bearer'; readonly realm: string; readonly service: string | undefined };

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68_CHAR = /[A-Za-z0-9\-._~+/]/;

/**
 * Parses every challenge in one or more `WWW-Authenticate` header values, in order.
 * Malformed parts are skipped rather than failing the whole header: a registry that sends one odd
 * challenge next to a usable one should still be usable.
 */
export function parseChallenges(headers: string | readonly string[] | undefined): readonly Challenge[] {
  if (headers === undefined) return [];
  const values = typeof headers === 'string' ? [headers] : headers;
  return values.flatMap((value) => parseHeader(value));
}

/**
 * The first Basic or Bearer challenge (scheme compared case-insensitively), as tagpin will answer it;
 * undefined when there is none. A Bearer challenge without a realm cannot be answered and is skipped.
 */
export function pickChallenge(headers: string | readonly string[] | undefined): AuthChallenge | undefined {
  for (const challenge of parseChallenges(headers)) {
    if (challenge.scheme === 'basic') return { scheme: 'basic', realm: challenge.params['realm'] };
    if (challenge.scheme === 'bearer') {
      const realm = challenge.params['realm'];
      if (realm === undefined || realm === '') continue;
      return { scheme: 'bearer', realm, service: challenge.params['service'] };
    }
  }
  return undefined;
}

function parseHeader(text: string): Challenge[] {
  const scanner = new Scanner(text);
  const challenges: Challenge[] = [];
  for (;;) {
    scanner.skipListSeparators();
    if (scanner.done()) return challenges;
    const scheme = scanner.token();
    if (scheme === '') {
      // Not a challenge start: skip to the next comma and carry on.
      scanner.skipPast(',');
      continue;
    }
    challenges.push(parseChallengeBody(scheme.toLowerCase(), scanner));
  }
}

function parseChallengeBody(scheme: string, scanner: Scanner): Challenge {
  const params: Record<string, string> = {};
  if (!scanner.skipSpaces()) return { scheme, params };

  const token68 = scanner.tryToken68();
  if (token68 !== undefined) return { scheme, params, token68 };

  for (;;) {
    const param = scanner.tryParam();
    if (param === undefined) return { scheme, params };
    // The first occurrence wins; RFC 7235 says each name MUST appear once.
    if (!(param.name in params)) params[param.name] = param.value;
    const mark = scanner.position;
    scanner.skipOws();
    if (!scanner.eat(',')) {
      scanner.position = mark;
      return { scheme, params };
    }
    scanner.skipListSeparators();
    // After a comma comes either another auth-param of this challenge or the next challenge.
    if (!scanner.startsParam()) return { scheme, params };
  }
}

class Scanner {
  position = 0;
  readonly #text: string;

  constructor(text: string) {
    this.#text = text;
  }

  done(): boolean {
    return this.position >= this.#text.length;
  }

  peek(offset = 0): string {
    return this.#text.charAt(this.position + offset);
  }

  eat(char: string): boolean {
    if (this.peek() !== char) return false;
    this.position += 1;
    return true;
  }

  /** Skips spaces and tabs; true when at least one was skipped. */
  skipSpaces(): boolean {
    const start = this.position;
    this.skipOws();
    return this.position > start;
  }

  skipOws(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.position += 1;
  }

  skipListSeparators(): void {
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === ',') this.position += 1;
  }

  skipPast(char: string): void {
    const next = this.#text.indexOf(char, this.position);
    this.position = next === -1 ? this.#text.length : next + 1;
  }

  token(): string {
    const start = this.position;
    while (!this.done() && TCHAR.test(this.peek())) this.position += 1;
    return this.#text.slice(start, this.position);
  }

  /** True when the text at the current position is `token BWS "="` but not a token68 tail. */
  startsParam(): boolean {
    const mark = this.position;
    const name = this.token();
    this.skipOws();
    const result = name !== '' && this.peek() === '=';
    this.position = mark;
    return result;
  }

  /** A token68 is a run of token68 chars, then "=" padding, then end of challenge (comma or end). */
  tryToken68(): string | undefined {
    const mark = this.position;
    while (!this.done() && TOKEN68_CHAR.test(this.peek())) this.position += 1;
    const bodyEnd = this.position;
    while (this.peek() === '=') this.position += 1;
    const value = this.#text.slice(mark, this.position);
    this.skipOws();
    if (bodyEnd > mark && (this.done() || this.peek() === ',')) return value;
    this.position = mark;
    return undefined;
  }

  tryParam(): { readonly name: string; readonly value: string } | undefined {
    const mark = this.position;
    const name = this.token();
    this.skipOws();
    if (name === '' || !this.eat('=')) {
      this.position = mark;
      return undefined;
    }
    this.skipOws();
    const value = this.peek() === '"' ? this.quotedString() : this.token();
    return { name: name.toLowerCase(), value };
  }

  /** A quoted-string with backslash escapes; an unterminated one runs to the end of the header. */
  quotedString(): string {
    this.position += 1;
    let value = '';
    while (!this.done()) {
      const char = this.peek();
      this.position += 1;
      if (char === '"') return value;
      if (char === '\\' && !this.done()) {
        value += this.peek();
        this.position += 1;
      } else {
        value += char;
      }
    }
    return value;
  }
}
