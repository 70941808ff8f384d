// Quantiles of a Prometheus histogram read from the API server's /metrics, as histogram_quantile computes them.

/** Cumulative buckets `le → count` of the series of `metric` whose labels include every one of `labels`, summed. */
export function histogramBuckets(text: string, metric: string, labels: Readonly<Record<string, string>>): Map<number, number> {
  const buckets = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}_bucket{`)) continue;
    const close = line.lastIndexOf('}');
    const labelText = line.slice(metric.length + '_bucket{'.length, close);
    const value = Number(line.slice(close + 1).trim());
    const seen = new Map<string, string>();
    for (const match of labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) seen.set(match[1] ?? '', match[2] ?? '');
    if (!Object.entries(labels).every(([k, v]) => seen.get(k) === v)) continue;
    const le = seen.get('le') === '+Inf' ? Infinity : Number(seen.get('le'));
    buckets.set(le, (buckets.get(le) ?? 0) + value);
  }
  return buckets;
}

/** The q-quantile (0–1) by linear interpolation inside the bucket that holds it; undefined without samples. */
export function quantile(buckets: ReadonlyMap<number, number>, q: number): number | undefined {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total === 0) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      // Above the last finite bound there is nothing to interpolate to: report that bound.
      if (le === Infinity) return lowerBound;
      return lowerBound + ((le - lowerBound) * (rank - lowerCount)) / Math.max(count - lowerCount, 1);
    }
    lowerBound = le;
    lowerCount = count;
  }
  return lowerBound;
}

/** Total sample count of the selected series. */
export function sampleCount(buckets: ReadonlyMap<number, number>): number {
  return buckets.get(Infinity) ?? 0;
}
