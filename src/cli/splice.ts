// Rewrites image values inside the original manifest text, keeping every other byte.
import { isDeepStrictEqual } from 'node:util';
import { Scalar, parseAllDocuments } from 'yaml';
import { findScalar, pointerSegments } from './manifests.ts';
import type { ParsedManifest } from './manifests.ts';

/** A new value for the string at `pointer` of document `document` (index in the file). */
export interface ImageEdit {
  readonly document: number;
  /** JSON Pointer inside the document, including the `/items/N` prefix of List items. */
  readonly pointer: string;
  readonly value: string;
}

/** Characters that keep a plain scalar plain in block and flow context alike. */
const PLAIN_SAFE = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/;

/**
 * Applies `edits` to the manifest's original text: each scalar is replaced at its source range,
 * re-quoted in its own style (plain, 'single', "double"; JSON strings stay JSON strings).
 * The result is parsed again and must equal the original data with only the edited values changed.
 * @throws Error when a pointer names no string or the result would differ elsewhere (a bug, not bad input)
 */
export function applyImageEdits(manifest: ParsedManifest, edits: readonly ImageEdit[]): string {
  const splices = new Map<number, { readonly start: number; readonly end: number; readonly text: string }>();
  for (const edit of edits) {
    const parsed = manifest.documents[edit.document];
    const node = parsed === undefined ? undefined : findScalar(parsed.document, edit.pointer);
    if (node?.range == null || typeof node.value !== 'string') {
      throw new Error(`${manifest.source.name}: no string at ${edit.pointer} in document ${String(edit.document + 1)}`);
    }
    const [start, end] = node.range;
    // Fields that share one anchored scalar are rewritten once.
    if (!splices.has(start)) splices.set(start, { start, end, text: render(node, manifest.source.text.slice(start, end), edit.value) });
  }
  let text = manifest.source.text;
  for (const splice of [...splices.values()].sort((a, b) => b.start - a.start)) {
    text = text.slice(0, splice.start) + splice.text + text.slice(splice.end);
  }
  verify(manifest, edits, text);
  return text;
}

function render(node: Scalar, original: string, value: string): string {
  switch (node.type) {
    case Scalar.PLAIN:
      return PLAIN_SAFE.test(value) ? value : JSON.stringify(value);
    case Scalar.QUOTE_SINGLE:
      return `'${value.replaceAll("'", "''")}'`;
    case Scalar.QUOTE_DOUBLE:
      return JSON.stringify(value);
    default:
      // Block scalars: a one-line image fits a double-quoted string; keep the line breaks the block ended with.
      return JSON.stringify(value) + original.slice(original.trimEnd().length);
  }
}

function verify(manifest: ParsedManifest, edits: readonly ImageEdit[], text: string): void {
  const expected = manifest.documents.map((document) => structuredClone(document.data));
  for (const edit of edits) {
    const segments = pointerSegments(edit.pointer);
    const last = segments.at(-1);
    let target: unknown = expected[edit.document];
    for (const segment of segments.slice(0, -1)) target = (target as Record<string, unknown> | undefined)?.[segment];
    if (last !== undefined && typeof target === 'object' && target !== null) (target as Record<string, unknown>)[last] = edit.value;
  }
  const reparsed = parseAllDocuments(text, { merge: true });
  const actual = Array.isArray(reparsed) ? reparsed.map((document) => document.toJS({ maxAliasCount: 1000 }) as unknown) : [];
  if (!isDeepStrictEqual(actual, expected)) {
    throw new Error(`${manifest.source.name}: pinning would change more than image values; file left unchanged`);
  }
}
