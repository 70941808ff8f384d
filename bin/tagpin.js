#!/usr/bin/env node
// Launcher of the `tagpin` command. An installed package (npm pack, npm install -g) runs the
// JavaScript bundle in dist/ (`npm run build`); a checkout, which has src/, runs the TypeScript
// sources directly on Node 24, which strips types natively. When started by an older Node (the
// system one), it re-executes itself with the Node 24 that the project brings as a dependency.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import module, { createRequire } from 'node:module';

const major = Number(process.versions.node.split('.')[0]);
if (major >= 24) {
  // V8's compiled code is kept on disk (in the OS temp dir, keyed by Node version and file
  // contents): from the second run on, loading the CLI takes about half the time.
  module.enableCompileCache?.();
  const sources = new URL('../src/main.ts', import.meta.url);
  await import(existsSync(sources) ? sources.href : new URL('../dist/tagpin.js', import.meta.url).href);
} else {
  const require = createRequire(import.meta.url);
  let nodeBin;
  try {
    nodeBin = require.resolve('node/bin/node');
  } catch {
    process.stderr.write(`tagpin: needs Node.js 24 or later (this is ${process.version}); run npm ci first\n`);
    process.exit(2);
  }
  const result = spawnSync(nodeBin, [new URL(import.meta.url).pathname, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(result.status ?? 1);
}
