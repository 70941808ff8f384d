// A scratch copy of the committed tree with patches applied, for before/after figures that never touch the working tree.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { removeOnExit } from '../../test/support/exit-cleanup.ts';
import { repoRoot } from './bench.ts';

const run = promisify(execFile);

/**
 * HEAD's tree in a new temp dir (removed at exit), with this checkout's bench/ (so unreleased benchmark
 * code runs too) and its node_modules, and `patches` applied in order; returns the copy's root.
 */
export async function scratchCopy(patches: readonly string[]): Promise<string> {
  const scratch = await mkdtemp(join(tmpdir(), 'tagpin-bench-proposal-'));
  removeOnExit(scratch);
  await run('sh', ['-c', `git -C "${repoRoot}" archive HEAD | tar -x -C "${scratch}"`], { timeout: 120_000 });
  await rm(join(scratch, 'bench'), { recursive: true, force: true });
  await cp(join(repoRoot, 'bench'), join(scratch, 'bench'), { recursive: true });
  await symlink(join(repoRoot, 'node_modules'), join(scratch, 'node_modules'));
  for (const patch of patches) await run('git', ['apply', resolve(patch)], { cwd: scratch, timeout: 60_000 });
  return scratch;
}
