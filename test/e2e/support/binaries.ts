// The control plane's binaries, built from the Go module in test/e2e/control-plane/ once and reused.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Paths of the three binaries the suite runs. */
export interface ControlPlaneBinaries {
  readonly version: string;
  readonly dir: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  readonly etcd: string;
}

const repoRoot = resolve(import.meta.dirname, '..', '..', '..');
const moduleDir = join(repoRoot, 'test', 'e2e', 'control-plane');
const commands = ['kube-apiserver', 'kube-controller-manager', 'etcd'] as const;

/** The Kubernetes version go.mod requires; kubectl from the npm layer (1.35) must stay within one minor of it. */
export function kubernetesVersion(): string {
  const goMod = readFileSync(join(moduleDir, 'go.mod'), 'utf8');
  const match = /^\s*(?:require\s+)?k8s\.io\/kubernetes (v\d+\.\d+\.\d+)$/m.exec(goMod);
  if (match?.[1] === undefined) throw new Error(`${join(moduleDir, 'go.mod')} requires no k8s.io/kubernetes vX.Y.Z`);
  return match[1];
}

/** -ldflags as upstream's hack/lib/version.sh sets them, so `kubectl version` and Helm's kubeVersion see a real version. */
function ldflags(version: string): string {
  const [major, minor] = version.slice(1).split('.');
  const flags = ['-s', '-w'];
  for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
    flags.push(`-X ${pkg}.gitVersion=${version}`, `-X ${pkg}.gitMajor=${major ?? ''}`, `-X ${pkg}.gitMinor=${minor ?? ''}`, `-X ${pkg}.gitTreeState=clean`);
  }
  return flags.join(' ');
}

/** A key that changes whenever anything that goes into the binaries does: the module files and the flags. */
function buildKey(version: string): string {
  const hash = createHash('sha256').update(ldflags(version)).update(spawnSync('go', ['env', 'GOVERSION'], { encoding: 'utf8' }).stdout ?? '');
  for (const file of ['go.mod', 'go.sum', ...commands.map((c) => join(c, 'main.go'))]) {
    hash.update(file).update(readFileSync(join(moduleDir, file)));
  }
  return `${version}-${hash.digest('hex').slice(0, 12)}`;
}

/** Where built binaries are kept: $TAGPIN_E2E_CACHE, else .cache/control-plane in the checkout (git-ignored). */
export function cacheRoot(): string {
  return process.env['TAGPIN_E2E_CACHE'] ?? join(repoRoot, '.cache', 'control-plane');
}

function pathsIn(dir: string, version: string): ControlPlaneBinaries {
  return {
    version,
    dir,
    kubeApiserver: join(dir, 'kube-apiserver'),
    kubeControllerManager: join(dir, 'kube-controller-manager'),
    etcd: join(dir, 'etcd'),
  };
}

/** The binaries if they are already built for the current module files, else undefined. */
export function builtBinaries(): ControlPlaneBinaries | undefined {
  const version = kubernetesVersion();
  const binaries = pathsIn(join(cacheRoot(), buildKey(version)), version);
  return commands.every((c) => existsSync(join(binaries.dir, c))) ? binaries : undefined;
}

/**
 * Returns the cached binaries, building them first when the cache has none for the current module
 * files. Building runs `go build` with CGO disabled and upstream's version ldflags into a staging
 * folder that is renamed into place, so two suites starting at once never see half a build.
 */
export async function ensureBinaries(log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<ControlPlaneBinaries> {
  const ready = builtBinaries();
  if (ready !== undefined) return ready;
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).error !== undefined) {
    throw new Error('the e2e suite builds kube-apiserver, kube-controller-manager and etcd with Go, which is not installed: install Go 1.25 or newer (or run bash .ci/run)');
  }
  const version = kubernetesVersion();
  const root = cacheRoot();
  const target = join(root, buildKey(version));
  mkdirSync(root, { recursive: true });
  const staging = mkdtempSync(join(root, 'build-'));
  const started = Date.now();
  log(`building kube-apiserver, kube-controller-manager and etcd ${version} from Go modules into ${target} (first build on 2 cores with empty Go caches: about 9 minutes)`);
  try {
    await goBuild(staging, version);
    try {
      renameSync(staging, target);
    } catch (error) {
      // Another suite finished the same build first; its binaries are as good as ours.
      if (!commands.every((c) => existsSync(join(target, c)))) throw error;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  log(`built the control plane in ${String(Math.round((Date.now() - started) / 1000))} s`);
  pruneOldBuilds(root, target);
  return pathsIn(target, version);
}

function goBuild(outDir: string, version: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('go', ['build', '-trimpath', '-ldflags', ldflags(version), '-o', `${outDir}/`, ...commands.map((c) => `./${c}`)], {
      cwd: moduleDir,
      env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=readonly' },
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      process.stderr.write(chunk);
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`go build of the control plane failed (${signal ?? `exit ${String(code)}`}): ${stderr.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

/** Removes builds for older module files, so the cache holds one build (plus any in progress). */
function pruneOldBuilds(root: string, keep: string): void {
  for (const entry of readdirSync(root)) {
    const path = join(root, entry);
    if (path !== keep && /^v\d+\.\d+\.\d+-[0-9a-f]{12}$/.test(entry)) rmSync(path, { recursive: true, force: true });
  }
}

// `node test/e2e/support/binaries.ts` builds (or finds) the binaries and prints their folder.
if (import.meta.filename === process.argv[1]) {
  const binaries = await ensureBinaries();
  process.stdout.write(`${binaries.dir}\n`);
}
