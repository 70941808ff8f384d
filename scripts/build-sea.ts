// `npm run build:sea`: one executable file for linux-x64 that needs neither Node nor node_modules
// (Node's single executable applications). The bundle as one CommonJS file becomes a blob
// (`node --experimental-sea-config`), which postject writes into a copy of this Node 24 binary.
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { bundle } from './build.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** Where `npm run build:sea` writes the executable, relative to the repository root (git-ignored). */
export const SEA_OUTPUT = '.cache/sea/tagpin';

/** The marker Node looks for in its own binary to know a blob was injected (Node's SEA documentation). */
const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const run = promisify(execFile);

/** Builds the single executable at `output` from the current sources, with the Node running this script. */
export async function buildSea(output: string): Promise<void> {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`the single executable is built for linux-x64 only (this is ${process.platform}-${process.arch})`);
  }
  const postject = postjectCli();
  const work = await mkdtemp(join(tmpdir(), 'tagpin-sea-'));
  try {
    const { entry } = await bundle(join(work, 'bundle'), true);
    const blob = join(work, 'tagpin.blob');
    const config = join(work, 'sea-config.json');
    // The code cache saves compiling the 5 MiB bundle at every start; it rules out import(), which
    // the CommonJS bundle does not use (esbuild turns the dynamic imports into inline requires).
    await writeFile(config, JSON.stringify({ main: entry, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }));
    await run(process.execPath, ['--experimental-sea-config', config], { cwd: work, timeout: 120_000 });
    await mkdir(dirname(output), { recursive: true });
    // A blob only runs in the very Node binary that made it.
    await rm(output, { force: true });
    await copyFile(process.execPath, output);
    await chmod(output, 0o755);
    // In a child process: its ELF library prints a warning for each of the binary's many notes.
    await run(process.execPath, [postject, output, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SENTINEL_FUSE], {
      timeout: 300_000,
      maxBuffer: 64 * 1024 * 1024,
    }).catch((err: unknown) => {
      const stderr = (err as { stderr?: string }).stderr ?? '';
      throw new Error(`postject failed: ${stderr.trim().split('\n').slice(-3).join(' | ') || String(err)}`);
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The path of postject's command-line script. */
function postjectCli(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('postject')), 'cli.js');
  } catch {
    throw new Error('postject is not installed (a dev dependency): run npm ci');
  }
}

if (import.meta.main) {
  // `--output FILE` writes elsewhere (the tests do, so that two runs never share a file).
  const flag = process.argv.indexOf('--output');
  const output = resolve(flag === -1 ? join(repoRoot, SEA_OUTPUT) : (process.argv[flag + 1] ?? SEA_OUTPUT));
  try {
    await buildSea(output);
    process.stdout.write(`built ${relative(process.cwd(), output)}\n`);
  } catch (err) {
    process.stderr.write(`build:sea: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
