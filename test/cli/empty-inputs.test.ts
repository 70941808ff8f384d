// Inputs without manifests: pin and check never pass in silence when pointed at the wrong place.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { lines, removeDir, runCli, tempDir } from '../support/cli.ts';

describe('tagpin pin and check on inputs without manifests', () => {
  let dir: string;
  let empty: string;
  let notes: string;

  before(async () => {
    dir = await tempDir();
    empty = join(dir, 'emptydir');
    await mkdir(empty);
    await writeFile(join(empty, 'README.md'), '# nothing to pin here\n');
    notes = join(dir, 'notes.txt');
    await writeFile(notes, 'Remember to pin the images before the release.\nAsk ops about the registry.\n');
  });
  after(async () => {
    await removeDir(dir);
  });

  for (const command of ['pin', 'check']) {
    test(`${command} of a directory without manifests exits 2 naming it and the fix`, async () => {
      const result = await runCli([command, '-f', empty]);
      assert.equal(result.code, 2);
      assert.equal(result.stdout, '');
      assert.deepEqual(lines(result.stderr), [
        `tagpin: no manifests found in ${empty}: no Kubernetes objects, compose services or Dockerfile stages (use --allow-empty to accept that)`,
      ]);
    });

    test(`${command} of a text file exits 2 naming it, and prints nothing of it`, async () => {
      const result = await runCli([command, '-f', notes]);
      assert.equal(result.code, 2);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, new RegExp(`^tagpin: no manifests found in ${notes.replaceAll('.', '\\.')}: `));
      assert.equal(lines(result.stderr).length, 1, result.stderr);
    });

    test(`${command} --allow-empty accepts an argument without manifests, with a note`, async () => {
      const result = await runCli([command, '--allow-empty', '-f', empty]);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(lines(result.stderr), [`tagpin: note: no manifests found in ${empty} (--allow-empty)`]);
      assert.equal(result.stdout, command === 'check' ? '0 images in 0 files: 0 ok, 0 violations, 0 invalid, 0 excluded\n' : '');
    });
  }

  test('empty stdin is no manifest either', async () => {
    const result = await runCli(['check', '-f', '-'], { stdin: '' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^tagpin: no manifests found in <stdin>: /);
  });

  test('each argument must hold a manifest: a good one does not cover for a wrong one', async () => {
    const good = join(dir, 'pod.yaml');
    await writeFile(good, 'kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: a, image: nginx:1.27}\n');
    const result = await runCli(['check', '-f', good, '-f', empty]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, new RegExp(`^tagpin: no manifests found in ${empty.replaceAll('.', '\\.')}: `));
  });

  test('a YAML file without objects inside a directory is skipped with a note, not printed', async () => {
    const tree = join(dir, 'chart');
    await mkdir(tree);
    await writeFile(join(tree, 'values.yaml'), 'replicas: 2\nimage: nginx:1.27\n');
    await writeFile(join(tree, 'svc.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\n');
    const result = await runCli(['pin', '-f', tree]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\n');
    assert.deepEqual(lines(result.stderr), [
      `tagpin: note: ${join(tree, 'values.yaml')}: no Kubernetes objects, compose services or Dockerfile stages; skipped`,
    ]);
  });
});
