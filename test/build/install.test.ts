// `npm pack` then `npm install -g`: the tarball installs offline (it has no runtime dependencies) and
// the `tagpin` command it links works from any folder; an older Node gets one line saying what to do.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { delimiter, dirname } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { lines, runCli } from '../support/cli.ts';
import { packAndInstall } from '../support/installed.ts';
import type { InstalledPackage } from '../support/installed.ts';
import { itWorksInstalled } from './installed-cli.ts';

const run = promisify(execFile);

/** The machine's own Node (20 here), found on the system PATH without the project's Node 24. */
const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';

describe('the npm package, installed with npm install -g', () => {
  let installed: InstalledPackage;
  before(async () => {
    installed = await packAndInstall();
  });

  itWorksInstalled(() =>
    Promise.resolve({ command: [installed.command], env: { PATH: `${dirname(process.execPath)}${delimiter}${SYSTEM_PATH}` } }),
  );

  it('packs only the launcher, the bundle, package.json and README.md', async () => {
    const { stdout } = await run('tar', ['-tzf', installed.tarball]);
    const tops = new Set(lines(stdout).map((path) => path.replace(/^package\//, '').split('/')[0]));
    assert.deepEqual([...tops].sort(), ['README.md', 'bin', 'dist', 'package.json']);
  });

  it('brings no node_modules: the bundle carries every library it uses', async () => {
    assert.deepEqual((await readdir(installed.packageDir)).sort(), ['README.md', 'bin', 'dist', 'package.json']);
  });

  it('on a Node older than 24, says so in one line and exits 2', async () => {
    const env = { PATH: SYSTEM_PATH };
    const { stdout: systemVersion } = await run('node', ['--version'], { env });
    assert.ok(Number(/^v(\d+)/.exec(systemVersion)?.[1]) < 24, `the system Node is older than 24 (it is ${systemVersion.trim()})`);
    const result = await runCli(['version'], { command: [installed.command], env });
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.equal(
      result.stderr,
      `tagpin: needs Node.js 24 or later, this is ${systemVersion.trim()}; install Node.js 24 or later, or use the single executable (README, "Install")\n`,
    );
  });
});
