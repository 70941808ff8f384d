// What the CLI benchmarks share: manifests with many image references, checking what `tagpin pin`
// wrote against the registry's digests, and timing a program from spawn to exit.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { parseAllDocuments } from 'yaml';
import { killOnExit } from '../../test/support/exit-cleanup.ts';
import type { ContentKind, TestRegistry } from '../../test/support/registry.ts';
import { repoRoot } from './bench.ts';
import type { Budget } from './bench.ts';
import { cleanEnv } from './processes.ts';

const KINDS: readonly ContentKind[] = ['oci-index', 'docker-list', 'oci-manifest', 'docker-manifest'];

/** Pushes `count` images `PREFIX/app-N:v1`, OCI and Docker indexes and manifests in turn; returns repository → the digest the registry reported. */
export async function pushImages(registry: TestRegistry, prefix: string, count: number, budget: Budget): Promise<Map<string, string>> {
  const digests = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    budget.check('pushing images');
    const repository = `${prefix}/app-${String(i)}`;
    digests.set(repository, await registry.push(repository, 'v1', KINDS[i % KINDS.length] ?? 'oci-manifest'));
  }
  return digests;
}

/** A Deployment in namespace `shop` running `containers`. */
export function deployment(name: string, containers: ReadonlyArray<{ readonly name: string; readonly image: string }>): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'shop' },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers } },
    },
  };
}

/** Counts the images in `pin`'s output that carry the registry's digest, failing on any other image. */
export function checkPinned(output: string, expected: (image: string) => string | undefined): number {
  let count = 0;
  for (const document of parseAllDocuments(output)) {
    const object = document.toJS() as { spec?: { template?: { spec?: { containers?: Array<{ image?: string }> } } } } | null;
    for (const container of object?.spec?.template?.spec?.containers ?? []) {
      const [image = '', digest = ''] = (container.image ?? '').split('@');
      if (expected(image) !== digest) throw new Error(`tagpin pin wrote ${container.image ?? '(none)'}, not the registry's digest`);
      count += 1;
    }
  }
  return count;
}

/** What `timed` saw of one run. */
export interface TimedRun {
  readonly code: number | null;
  readonly ms: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to completion (killed after `timeoutMs`, or when the benchmark exits), timing it from spawn to exit; `stdin` is written to it when given. */
export async function timed(
  program: string,
  args: readonly string[],
  timeoutMs: number,
  options: { readonly env?: Readonly<Record<string, string>>; readonly stdin?: string } = {},
): Promise<TimedRun> {
  const started = performance.now();
  const child = spawn(program, [...args], {
    cwd: repoRoot,
    env: { ...cleanEnv(), ...options.env },
    stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  killOnExit(child);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
  if (options.stdin !== undefined) child.stdin?.end(options.stdin);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  clearTimeout(timer);
  return { code, ms: performance.now() - started, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}
