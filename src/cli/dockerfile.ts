// Finds the image references of a Dockerfile (FROM and COPY --from) with their byte ranges, keeping stage names apart.
import { basename } from 'node:path';

/** An image reference written in a Dockerfile. */
export interface DockerfileImage {
  readonly value: string;
  /** Byte range of the reference in the text, to replace it and nothing else. */
  readonly start: number;
  readonly end: number;
  /** 1-based line of the reference. */
  readonly line: number;
  readonly instruction: 'FROM' | 'COPY';
  /** The stage the instruction belongs to: its `AS` name as written, else its index (`0`, `1`, …). */
  readonly stage: string;
}

/** A reference that is not read, and why (a build argument, a token split across lines). */
export interface DockerfileSkip {
  readonly value: string;
  readonly line: number;
  readonly instruction: 'FROM' | 'COPY';
  readonly reason: string;
}

/** What `parseDockerfile` found. */
export interface ParsedDockerfile {
  readonly images: readonly DockerfileImage[];
  readonly skipped: readonly DockerfileSkip[];
  /** Number of FROM instructions (build stages). */
  readonly stages: number;
}

/**
 * `Dockerfile`, `Containerfile`, `NAME.Dockerfile`, `Dockerfile.NAME` (and the same for Containerfile),
 * any case; `Dockerfile.dockerignore` is the ignore file BuildKit reads beside it, and a name ending in
 * `.yaml`, `.yml` or `.json` is a manifest whatever its stem.
 */
export function isDockerfileName(path: string): boolean {
  const name = basename(path).toLowerCase();
  if (/\.(docker|container)ignore$/.test(name) || /\.(ya?ml|json)$/.test(name)) return false;
  return /^(docker|container)file(\..+)?$/.test(name) || /.\.(docker|container)file$/.test(name);
}

/** True when the first instruction of `text` is FROM or ARG, as a Dockerfile's must be. */
export function looksLikeDockerfile(text: string): boolean {
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    return /^(from|arg)\s+\S/i.test(trimmed);
  }
  return false;
}

/** One instruction, its continuation lines joined, with the text offset of every character. */
interface Instruction {
  readonly text: string;
  readonly offsets: readonly number[];
}

interface Token {
  readonly text: string;
  /** Index in the instruction text. */
  readonly at: number;
}

/**
 * Reads the instructions of `text` as BuildKit does: parser directives (`# escape=`), comments,
 * line continuations (comment lines inside them dropped), case-insensitive keywords, and heredocs
 * (`RUN <<EOF`), whose bodies are not instructions. A FROM of `scratch` or of an earlier stage, and
 * a `COPY --from` naming a stage or a stage index, are not images.
 */
export function parseDockerfile(text: string): ParsedDockerfile {
  const instructions = readInstructions(text);
  const lineAt = lineCounter(text);
  const stageNames = new Set<string>();
  for (const instruction of instructions) {
    const tokens = tokenize(instruction.text);
    if (keyword(tokens) === 'FROM') {
      const name = stageName(tokens);
      if (name !== undefined) stageNames.add(name.toLowerCase());
    }
  }

  const images: DockerfileImage[] = [];
  const skipped: DockerfileSkip[] = [];
  const earlier = new Set<string>();
  let stages = 0;
  let stage = '';
  const take = (instruction: Instruction, kind: 'FROM' | 'COPY', value: string, at: number): void => {
    const start = instruction.offsets[at] ?? 0;
    const last = instruction.offsets[at + value.length - 1] ?? start;
    const line = lineAt(start);
    if (value.includes('$')) {
      skipped.push({ value, line, instruction: kind, reason: 'names a build argument; pin its default or --build-arg instead' });
    } else if (last - start !== value.length - 1) {
      skipped.push({ value, line, instruction: kind, reason: 'is split across lines' });
    } else {
      images.push({ value, start, end: last + 1, line, instruction: kind, stage });
    }
  };

  for (const instruction of instructions) {
    const tokens = tokenize(instruction.text);
    const word = keyword(tokens);
    if (word === 'FROM') {
      const name = stageName(tokens);
      stage = name ?? String(stages);
      stages++;
      const image = tokens.slice(1).find((token) => !token.text.startsWith('--'));
      if (image === undefined) continue;
      const lower = image.text.toLowerCase();
      if (lower !== 'scratch' && !earlier.has(lower)) take(instruction, 'FROM', image.text, image.at);
      if (name !== undefined) earlier.add(name.toLowerCase());
    } else if (word === 'COPY') {
      for (const token of tokens.slice(1)) {
        if (!token.text.startsWith('--')) break;
        const match = /^--from=(.+)$/i.exec(token.text);
        const value = match?.[1];
        if (value === undefined) continue;
        if (/^\d+$/.test(value) || stageNames.has(value.toLowerCase())) continue;
        take(instruction, 'COPY', value, token.at + token.text.length - value.length);
      }
    }
  }
  return { images, skipped, stages };
}

function keyword(tokens: readonly Token[]): string | undefined {
  return tokens[0]?.text.toUpperCase();
}

/** The `AS name` of a FROM instruction. */
function stageName(tokens: readonly Token[]): string | undefined {
  const rest = tokens.slice(1).filter((token) => !token.text.startsWith('--'));
  return rest[1]?.text.toUpperCase() === 'AS' ? rest[2]?.text : undefined;
}

function tokenize(text: string): readonly Token[] {
  const tokens: Token[] = [];
  for (const match of text.matchAll(/\S+/g)) tokens.push({ text: match[0], at: match.index });
  return tokens;
}

interface PhysicalLine {
  readonly text: string;
  readonly start: number;
}

function physicalLines(text: string): readonly PhysicalLine[] {
  const lines: PhysicalLine[] = [];
  let start = 0;
  for (const match of text.matchAll(/\r?\n/g)) {
    lines.push({ text: text.slice(start, match.index), start });
    start = match.index + match[0].length;
  }
  if (start < text.length) lines.push({ text: text.slice(start), start });
  return lines;
}

function readInstructions(source: string): readonly Instruction[] {
  const lines = physicalLines(source);
  let escape = '\\';
  let index = 0;
  // Parser directives: `# key=value` lines at the very top, before any other line.
  for (; index < lines.length; index++) {
    const directive = /^\s*#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(\S*)\s*$/.exec(lines[index]?.text ?? '');
    if (directive === null) break;
    if (directive[1]?.toLowerCase() === 'escape' && (directive[2] === '`' || directive[2] === '\\')) escape = directive[2];
  }
  const continued = new RegExp(`${escape === '\\' ? '\\\\' : '`'}[ \\t]*$`);
  const instructions: Instruction[] = [];
  while (index < lines.length) {
    const first = lines[index];
    index++;
    if (first === undefined || isBlankOrComment(first.text)) continue;
    let text = '';
    const offsets: number[] = [];
    let line: PhysicalLine | undefined = first;
    while (line !== undefined) {
      const ending = continued.exec(line.text);
      const body = ending === null ? line.text : line.text.slice(0, ending.index);
      for (let i = 0; i < body.length; i++) offsets.push(line.start + i);
      text += body;
      if (ending === null) break;
      // The next line continues this instruction; comment and blank lines inside it are dropped.
      offsets.push(line.start + body.length);
      text += ' ';
      line = undefined;
      while (index < lines.length) {
        const next = lines[index];
        index++;
        if (next !== undefined && !isBlankOrComment(next.text)) {
          line = next;
          break;
        }
      }
    }
    instructions.push({ text, offsets });
    index = skipHeredocs(text, lines, index);
  }
  return instructions;
}

/** Heredoc bodies (`RUN <<EOF … EOF`, `COPY <<-"END" …`) are data; skips past their terminators. */
function skipHeredocs(text: string, lines: readonly PhysicalLine[], index: number): number {
  if (!/^\s*(run|copy|add)\s/i.test(text)) return index;
  let next = index;
  for (const match of text.matchAll(/<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g)) {
    const stripTabs = match[1] === '-';
    const word = match[3];
    while (next < lines.length) {
      const body = lines[next]?.text ?? '';
      next++;
      if ((stripTabs ? body.replace(/^\t+/, '') : body) === word) break;
    }
  }
  return next;
}

function isBlankOrComment(line: string): boolean {
  const trimmed = line.trim();
  return trimmed === '' || trimmed.startsWith('#');
}

function lineCounter(text: string): (offset: number) => number {
  const starts = [0];
  for (const match of text.matchAll(/\n/g)) starts.push(match.index + 1);
  return (offset) => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if ((starts[middle] ?? 0) <= offset) low = middle;
      else high = middle - 1;
    }
    return low + 1;
  };
}
