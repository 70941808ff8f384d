// Reading samples out of the Prometheus text tagpin serves on /metrics.
/**
 * The value of a sample with exactly these labels (in any order); undefined when absent.
 * Label values are compared literally.
 */
export function sample(metrics: string, name: string, labels: Readonly<Record<string, string>>): number | undefined {
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const found = new Map<string, string>();
    for (const match of line.slice(name.length + 1, close).matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) {
      found.set(match[1] ?? '', match[2] ?? '');
    }
    if (found.size === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => found.get(k) === v)) {
      return Number(line.slice(close + 1).trim());
    }
  }
  return undefined;
}

/** The sum of every sample of `name` whose labels include `labels`. */
export function sumSamples(metrics: string, name: string, labels: Readonly<Record<string, string>>): number {
  let total = 0;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const text = line.slice(name.length + 1, close);
    if (Object.entries(labels).every(([k, v]) => text.includes(`${k}="${v}"`))) total += Number(line.slice(close + 1).trim());
  }
  return total;
}

/** The distinct values of `label` among the series of `metric` in Prometheus text. */
export function labelValues(text: string, metric: string, label: string): Set<string> {
  const values = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const value = new RegExp(`${label}="([^"]*)"`).exec(line)?.[1];
    if (value !== undefined) values.add(value);
  }
  return values;
}
