// Reads counters out of Prometheus text, so benchmarks can cross-check tagpin's own counts.

/** Sums of `metric`'s samples grouped by the values of `labels`, joined with a space ("" for a missing label). */
export function sumBy(text: string, metric: string, labels: readonly string[]): Readonly<Record<string, number>> {
  const sums: Record<string, number> = {};
  const line = new RegExp(`^${metric}(?:\\{([^}]*)\\})? (\\S+)$`);
  for (const row of text.split('\n')) {
    const match = line.exec(row);
    if (match === null) continue;
    const given = match[1] ?? '';
    const value = Number(match[2]);
    const key = labels.map((label) => new RegExp(`(?:^|,)${label}="([^"]*)"`).exec(given)?.[1] ?? '').join(' ');
    sums[key] = (sums[key] ?? 0) + value;
  }
  return sums;
}

/** `after - before` for every key of either. */
export function difference(after: Readonly<Record<string, number>>, before: Readonly<Record<string, number>>): Readonly<Record<string, number>> {
  const keys = new Set([...Object.keys(after), ...Object.keys(before)]);
  const result: Record<string, number> = {};
  for (const key of keys) {
    const delta = (after[key] ?? 0) - (before[key] ?? 0);
    if (delta !== 0) result[key] = delta;
  }
  return result;
}
