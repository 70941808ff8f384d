#!/usr/bin/env node
// Launcher of the `tagpin` command. An installed package (npm pack, npm install -g) runs the
// JavaScript bundle in dist/ (`npm run build`); a checkout, which has src/, runs the TypeScript
// sources directly on Node 24, which strips types natively. In a checkout started by an older
// Node (the system one), it re-executes itself with the Node 24 that the project brings as a
// dependency; installed, an older Node gets one line saying what to install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import module, { createRequire } from 'node:module';

const major = Number(process.versions.node.split('.')[0]);
const sources = new URL('../src/main.ts', import.meta.url);
const inCheckout = existsSync(sources);
if (major >= 24) {
  // V8's compiled code is kept on disk (in the OS temp dir, keyed by Node version and file
  // contents): from the second run on, loading the CLI takes about half the time.
  module.enableCompileCache?.();
  await import(inCheckout ? sources.href : new URL('../dist/tagpin.js', import.meta.url).href);
} else {
  const nodeBin = inCheckout ? projectNode() : undefined;
  if (nodeBin === undefined) {
    const fix = inCheckout ? 'run npm ci first' : 'install Node.js 24 or later, or use the single executable (README, "Install")';
    process.stderr.write(`tagpin: needs Node.js 24 or later, this is ${process.version}; ${fix}\n`);
    process.exit(2);
  }
  const result = spawnSync(nodeBin, [new URL(import.meta.url).pathname, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(result.status ?? 1);
}

/** The Node 24 of the project's dev dependency `node`, if installed. */
function projectNode() {
  try {
    return createRequire(import.meta.url).resolve('node/bin/node');
  } catch {
    return undefined;
  }
}
