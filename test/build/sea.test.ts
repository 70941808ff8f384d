// `npm run build:sea`: one executable file that runs tagpin with no Node on PATH and no node_modules.
import assert from 'node:assert/strict';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { removeOnExit } from '../support/exit-cleanup.ts';
import { buildExecutable } from '../support/installed.ts';
import { itWorksInstalled } from './installed-cli.ts';

describe('the single executable', () => {
  let executable: string;

  itWorksInstalled(async () => {
    executable = await buildExecutable();
    // PATH names only an empty folder: no node, no npm, nothing else to lean on.
    const empty = await mkdtemp(join(tmpdir(), 'tagpin-empty-path-'));
    removeOnExit(empty);
    return { command: [executable], env: { PATH: empty } };
  });

  it('is one file, alone in its folder', async () => {
    assert.deepEqual(await readdir(dirname(executable)), ['tagpin']);
  });
});
