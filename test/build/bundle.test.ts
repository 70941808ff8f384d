// `npm run build`: the JavaScript bundle runs every command on its own, with no node_modules and no sources.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, readdir } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { removeOnExit } from '../support/exit-cleanup.ts';
import { repoRoot } from '../support/paths.ts';
import { itWorksInstalled } from './installed-cli.ts';

const run = promisify(execFile);

describe('the built bundle', () => {
  /** A folder outside the checkout holding only the bundle: nothing can be found in node_modules or src/. */
  let alone: string;

  itWorksInstalled(async () => {
    const built = await mkdtemp(join(tmpdir(), 'tagpin-build-'));
    removeOnExit(built);
    await run(process.execPath, ['scripts/build.ts', '--outdir', built], { cwd: repoRoot, timeout: 120_000 });
    alone = await mkdtemp(join(tmpdir(), 'tagpin-bundle-alone-'));
    removeOnExit(alone);
    await cp(built, join(alone, 'dist'), { recursive: true });
    return { command: [process.execPath, join(alone, 'dist', 'tagpin.js')], env: {} };
  });

  it('is JavaScript that imports only Node built-ins and its own chunks', async () => {
    const files = await readdir(join(alone, 'dist'), { recursive: true });
    const scripts = files.filter((file) => file.endsWith('.js'));
    assert.ok(scripts.includes('tagpin.js'));
    for (const file of scripts) {
      const text = await readFile(join(alone, 'dist', file), 'utf8');
      // Static imports open the (minified) file as statements; dynamic ones are `import("…")` anywhere.
      const statics = [...text.matchAll(/(?:^|;)\s*(?:import|export)\b[^;"'`]*?["']([^"'\n]+)["']/g)];
      const dynamics = [...text.matchAll(/\bimport\(\s*["']([^"'\n]+)["']\s*\)/g)];
      const specifiers = [...statics, ...dynamics].map((m) => m[1] ?? '');
      assert.ok(file !== 'tagpin.js' || specifiers.length > 0, 'the entry imports its chunks');
      for (const specifier of specifiers) {
        assert.ok(isBuiltin(specifier) || /^\.\.?\//.test(specifier), `${file} imports ${specifier}`);
      }
    }
  });
});
