// Reads V8 .heapsnapshot files and compares two: which kinds of object grew between them, by count and bytes.
import { readFile } from 'node:fs/promises';

interface Snapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: readonly string[]; readonly node_types: readonly [readonly string[], ...unknown[]] } };
  readonly nodes: readonly number[];
  readonly strings: readonly string[];
}

/** Objects of one kind (V8 node type and constructor or function name). */
export interface HeapGroup {
  readonly kind: string;
  readonly count: number;
  readonly bytes: number;
}

/** Self sizes in `file` grouped by node type and name. */
export async function groupHeap(file: string): Promise<ReadonlyMap<string, HeapGroup>> {
  const data = JSON.parse(await readFile(file, 'utf8')) as Snapshot;
  const fields = data.snapshot.meta.node_fields;
  const types = data.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const groups = new Map<string, { kind: string; count: number; bytes: number }>();
  for (let i = 0; i < data.nodes.length; i += width) {
    const type = types[data.nodes[i + typeAt] ?? 0] ?? '?';
    // Strings and numbers are named by their value; group them by type only.
    const name = type === 'object' || type === 'closure' || type === 'native' ? (data.strings[data.nodes[i + nameAt] ?? 0] ?? '?') : '';
    const kind = name === '' ? `(${type})` : `${name} (${type})`;
    const group = groups.get(kind) ?? { kind, count: 0, bytes: 0 };
    group.count += 1;
    group.bytes += data.nodes[i + sizeAt] ?? 0;
    groups.set(kind, group);
  }
  return groups;
}

/** Kinds that grew from `before` to `after`, largest growth in bytes first. */
export function heapGrowth(before: ReadonlyMap<string, HeapGroup>, after: ReadonlyMap<string, HeapGroup>, top = 20): readonly HeapGroup[] {
  const growth: HeapGroup[] = [];
  for (const [kind, group] of after) {
    const old = before.get(kind);
    growth.push({ kind, count: group.count - (old?.count ?? 0), bytes: group.bytes - (old?.bytes ?? 0) });
  }
  return growth.sort((a, b) => b.bytes - a.bytes).slice(0, top);
}
