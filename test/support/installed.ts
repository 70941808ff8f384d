// The installed forms of tagpin, made as a user makes them: the npm package (`npm pack`, then
// `npm install -g` into a prefix of its own) and the single executable (`npm run build:sea`).
// Each is built from the working tree into a temp dir, so two runs never share a file.
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { removeOnExit } from './exit-cleanup.ts';
import { repoRoot } from './paths.ts';

const run = promisify(execFile);

/** What `npm pack` puts in the tarball besides `files` (package.json names bin/ and dist/). */
const PACKED_EXTRAS = ['package.json', 'README.md'];

/** A package installed with `npm install -g --prefix`. */
export interface InstalledPackage {
  /** The tarball `npm pack` wrote. */
  readonly tarball: string;
  /** The `tagpin` command npm linked: PREFIX/bin/tagpin. */
  readonly command: string;
  /** Where npm unpacked the package: PREFIX/lib/node_modules/tagpin. */
  readonly packageDir: string;
}

/** The environment for npm: this Node (24) first on PATH, so npm and the installed command run on it. */
function npmEnv(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` };
}

/**
 * Packs the working tree (or the tree at `root`) as `npm pack` does (the bundle built fresh into the package's dist/), then
 * installs the tarball globally into a new prefix, offline and with an empty npm cache: the installed
 * package needs nothing from a registry.
 */
export async function packAndInstall(root = repoRoot): Promise<InstalledPackage> {
  const dir = await mkdtemp(join(tmpdir(), 'tagpin-pack-'));
  removeOnExit(dir);
  // `prepack` would build into the checkout's dist/; the staging copy gets its own build instead.
  const stage = join(dir, 'stage');
  await mkdir(stage);
  for (const entry of [...PACKED_EXTRAS, 'bin']) await cp(join(root, entry), join(stage, entry), { recursive: true });
  await run(process.execPath, [join(root, 'scripts', 'build.ts'), '--outdir', join(stage, 'dist')], { cwd: root, timeout: 120_000 });
  const env = npmEnv();
  const cache = join(dir, 'npm-cache');
  await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, '--cache', cache], { cwd: stage, env, timeout: 120_000 });
  const tarball = join(dir, (await readdir(dir)).find((name) => name.endsWith('.tgz')) ?? 'no tarball');
  const prefix = join(dir, 'prefix');
  await run('npm', ['install', '-g', '--offline', '--prefix', prefix, '--cache', cache, '--no-audit', '--no-fund', tarball], {
    cwd: dir,
    env,
    timeout: 120_000,
  });
  return { tarball, command: join(prefix, 'bin', 'tagpin'), packageDir: join(prefix, 'lib', 'node_modules', 'tagpin') };
}

/** Builds the single executable (scripts/build-sea.ts of the tree at `root`) alone in a new temp dir; returns its path. */
export async function buildExecutable(root = repoRoot): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tagpin-sea-'));
  removeOnExit(dir);
  const output = join(dir, 'tagpin');
  await run(process.execPath, [join(root, 'scripts', 'build-sea.ts'), '--output', output], { cwd: root, timeout: 300_000 });
  return output;
}
