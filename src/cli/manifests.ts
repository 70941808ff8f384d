// Finds the Kubernetes objects in every YAML document of an input, and the YAML nodes behind JSON Pointers.
import { LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseAllDocuments } from 'yaml';
import type { Document, Node, Scalar } from 'yaml';
import { InputError } from '../errors/index.ts';
import { isRecord } from '../json/index.ts';
import type { ManifestSource } from './sources.ts';

/** One Kubernetes object found in a document (a top-level object or an item of a `List`). */
export interface ManifestObject {
  readonly kind: string;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  /** The object as plain data. */
  readonly object: unknown;
  /** JSON Pointer of the object inside its document: '' or `/items/N`. */
  readonly pointer: string;
  /** 1-based line where the object starts. */
  readonly line: number;
}

/** One parsed YAML document of a source, with the objects it holds. */
export interface ManifestDocument {
  readonly document: Document.Parsed;
  /** The document as plain data; undefined for an empty document. */
  readonly data: unknown;
  readonly objects: readonly ManifestObject[];
}

/** A source with its parsed documents. */
export interface ParsedManifest {
  readonly source: ManifestSource;
  readonly documents: readonly ManifestDocument[];
  /** 1-based line of a character offset in `source.text`. */
  lineAt(offset: number): number;
}

/**
 * Parses every YAML (or JSON) document of `source` and lists the Kubernetes objects in them.
 * `merge: true` because kubectl reads manifests as YAML 1.1, where `<<` merge keys are standard.
 * @throws InputError `file:line: reason` for text that is not YAML
 */
export function parseManifest(source: ManifestSource): ParsedManifest {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(source.text, { lineCounter, merge: true, prettyErrors: true });
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;
  if (!Array.isArray(documents)) {
    // parseAllDocuments returns an EmptyStream for input with no documents at all.
    return { source, documents: [], lineAt };
  }
  const parsed: ManifestDocument[] = [];
  for (const document of documents) {
    const error = document.errors[0];
    if (error !== undefined) {
      const line = error.linePos?.[0].line ?? lineAt(error.pos[0]);
      throw new InputError(`${source.name}:${String(line)}: not valid YAML: ${firstLine(error.message)}`, {
        where: `${source.name}:${String(line)}`,
      });
    }
    let data: unknown;
    try {
      data = document.toJS({ maxAliasCount: 1000 });
    } catch (err) {
      const line = lineAt(document.range[0]);
      throw new InputError(`${source.name}:${String(line)}: cannot read document: ${firstLine(String((err as Error).message))}`, {
        where: `${source.name}:${String(line)}`,
      });
    }
    parsed.push({ document, data, objects: objectsOf(document, data, lineAt) });
  }
  return { source, documents: parsed, lineAt };
}

/** yaml's messages end with ` at line N, column M:` and a source excerpt; the caller already names the line. */
function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
}

function objectsOf(document: Document.Parsed, data: unknown, lineAt: (offset: number) => number): readonly ManifestObject[] {
  if (!isRecord(data) || typeof data.kind !== 'string') return [];
  const start = lineAt(document.contents?.range[0] ?? document.range[0]);
  if (data.kind === 'List' || (data.kind.endsWith('List') && Array.isArray(data.items))) {
    const items = Array.isArray(data.items) ? (data.items as readonly unknown[]) : [];
    const objects: ManifestObject[] = [];
    items.forEach((item, index) => {
      const pointer = `/items/${String(index)}`;
      const node = findNode(document, pointer);
      const object = describeObject(item, pointer, node === undefined ? start : lineAt(node.range?.[0] ?? 0));
      if (object !== undefined) objects.push(object);
    });
    return objects;
  }
  const object = describeObject(data, '', start);
  return object === undefined ? [] : [object];
}

function describeObject(data: unknown, pointer: string, line: number): ManifestObject | undefined {
  if (!isRecord(data) || typeof data.kind !== 'string') return undefined;
  const metadata = isRecord(data.metadata) ? data.metadata : {};
  return {
    kind: data.kind,
    namespace: typeof metadata.namespace === 'string' ? metadata.namespace : undefined,
    name: typeof metadata.name === 'string' ? metadata.name : undefined,
    object: data,
    pointer,
    line,
  };
}

/** Splits an RFC 6901 pointer into its unescaped segments. */
export function pointerSegments(pointer: string): readonly string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/**
 * The node at `pointer` in the document's syntax tree, following aliases and `<<` merge keys the
 * way `toJS` does, so the node found is the one whose text produced the value.
 */
export function findNode(document: Document.Parsed, pointer: string): Node | undefined {
  let node: unknown = document.contents;
  for (const segment of pointerSegments(pointer)) {
    node = resolveAlias(document, node);
    if (isMap(node)) node = mapValue(document, node, segment, 0);
    else if (isSeq(node)) node = /^(0|[1-9][0-9]*)$/.test(segment) ? node.items[Number(segment)] : undefined;
    else return undefined;
    if (node === undefined) return undefined;
  }
  node = resolveAlias(document, node);
  return isScalar(node) || isMap(node) || isSeq(node) ? node : undefined;
}

/** The 1-based line of the node at `pointer` in document `document` of `manifest`, or `fallback` when there is none. */
export function lineOfPointer(manifest: ParsedManifest, document: number, pointer: string, fallback: number): number {
  const parsed = manifest.documents[document];
  const node = parsed === undefined ? undefined : findNode(parsed.document, pointer);
  return node?.range == null ? fallback : manifest.lineAt(node.range[0]);
}

/** The scalar node holding the string at `pointer`, or undefined when it is not a scalar. */
export function findScalar(document: Document.Parsed, pointer: string): Scalar | undefined {
  const node = findNode(document, pointer);
  return isScalar(node) ? node : undefined;
}

function resolveAlias(document: Document.Parsed, node: unknown): unknown {
  for (let hops = 0; isAlias(node) && hops < 100; hops++) node = node.resolve(document);
  return node;
}

function mapValue(document: Document.Parsed, map: { readonly items: readonly unknown[] }, key: string, depth: number): unknown {
  // Later duplicates are rejected by the parser, so the first explicit key is the only one.
  for (const pair of map.items) {
    if (isPair(pair) && isScalar(pair.key) && !isMergeKey(pair.key) && String(pair.key.value) === key) {
      return pair.value ?? undefined;
    }
  }
  if (depth > 20) return undefined;
  // Explicit keys win over merged ones; among merge sources the first one wins (YAML 1.1 merge).
  for (const pair of map.items) {
    if (!isPair(pair) || !isScalar(pair.key) || !isMergeKey(pair.key)) continue;
    const source = resolveAlias(document, pair.value);
    const sources = isSeq(source) ? source.items.map((item) => resolveAlias(document, item)) : [source];
    for (const candidate of sources) {
      if (!isMap(candidate)) continue;
      const found = mapValue(document, candidate, key, depth + 1);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** With `merge: true` the parser marks `<<` keys with a symbol value. */
function isMergeKey(key: Scalar): boolean {
  return typeof key.value === 'symbol' || (key.value === '<<' && key.type === 'PLAIN');
}
