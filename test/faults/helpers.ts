// Shared pieces of the fault, secrecy and lifecycle suites: pods, timing, metric lines and docker configs.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogLine, TagpinServer } from '../support/serve.ts';

/** A Pod as `kubectl create … --dry-run=client -o json` prints it, one container per image. */
export function pod(images: readonly string[], extra: { readonly namespace?: string; readonly env?: ReadonlyArray<{ name: string; value: string }> } = {}): Record<string, unknown> {
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: { name: 'p', namespace: extra.namespace ?? 'demo', creationTimestamp: null },
    spec: {
      containers: images.map((image, i) => ({
        name: `c${String(i)}`,
        image,
        resources: {},
        ...(extra.env === undefined ? {} : { env: extra.env }),
      })),
    },
    status: {},
  };
}

/** Runs `work` and reports how long it took, in milliseconds. */
export async function timed<T>(work: () => Promise<T>): Promise<{ readonly value: T; readonly ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: Math.round(performance.now() - started) };
}

/** The audit line of `uid` from `webhook` (waits for it: the line is written as the answer leaves). */
export async function auditFor(server: TagpinServer, uid: string, webhook: 'mutate' | 'validate' = 'mutate'): Promise<LogLine> {
  return server.waitForLine((line) => line['logger'] === 'audit' && line['uid'] === uid && line['webhook'] === webhook);
}

/**
 * The value of a Prometheus sample with exactly these labels (in any order); undefined when absent.
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

/** One docker config.json entry: user and password, or an identity token. */
export type DockerConfigEntry = { readonly username: string; readonly password: string } | { readonly identitytoken: string };

/** Writes a docker config.json with `auths` for these hosts into `dir` and returns its path. */
export async function writeDockerConfig(dir: string, auths: Readonly<Record<string, DockerConfigEntry>>): Promise<string> {
  const file = join(dir, `docker-config-${String(Date.now())}-${String(Math.random()).slice(2, 8)}.json`);
  await writeFile(file, JSON.stringify({ auths }, null, 2));
  return file;
}
