// kustomize built from its Go module once into the git-ignored .cache/tools, for the KRM function tests.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.ts';

/** The kustomize release the tests run; v5.8.3 needs Go 1.27, newer than this project's Go. */
export const KUSTOMIZE_VERSION = 'v5.8.2';
const MODULE = 'sigs.k8s.io/kustomize/kustomize/v5';

/** Where the binary is kept: $TAGPIN_TOOLS_CACHE, else .cache/tools in the checkout, one folder per version. */
function binaryPath(): string {
  const root = process.env['TAGPIN_TOOLS_CACHE'] ?? join(repoRoot, '.cache', 'tools');
  return join(root, `kustomize-${KUSTOMIZE_VERSION}`, 'kustomize');
}

/**
 * The path of a kustomize binary, building it first when the cache has none (about 40 s with an empty
 * module cache on two cores; instant afterwards). The build goes into a staging folder renamed into
 * place, so two suites starting at once never run half a binary.
 */
export async function ensureKustomize(): Promise<string> {
  const binary = binaryPath();
  if (existsSync(binary)) return binary;
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).error !== undefined) {
    throw new Error('the KRM function tests build kustomize with Go, which is not installed: install Go 1.25 or newer (or run bash .ci/run)');
  }
  const dir = join(binary, '..');
  mkdirSync(join(dir, '..'), { recursive: true });
  const staging = mkdtempSync(`${dir}.staging-`);
  chmodSync(staging, 0o755);
  try {
    const stderr: Buffer[] = [];
    const child = spawn('go', ['install', `${MODULE}@${KUSTOMIZE_VERSION}`], {
      env: { ...process.env, GOBIN: staging, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const code = await new Promise<number | null>((done, fail) => {
      child.on('error', fail);
      child.on('close', done);
    });
    if (code !== 0) throw new Error(`go install ${MODULE}@${KUSTOMIZE_VERSION} failed (exit ${String(code)}): ${Buffer.concat(stderr).toString('utf8').slice(-2000)}`);
    try {
      renameSync(staging, dir);
    } catch (err) {
      // Another suite finished first: its binary is as good as this one.
      if (!existsSync(binary)) throw err;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return binary;
}

// `node test/support/kustomize.ts` builds (or finds) kustomize and prints its path: npm test runs it
// first, so the build is not timed as part of a test.
if (import.meta.filename === process.argv[1]) {
  process.stdout.write(`${await ensureKustomize()}\n`);
}
