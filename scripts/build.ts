// `npm run build`: bundles src/main.ts into dist/ as plain JavaScript for the image and installed CLI.
// Development runs the TypeScript directly; dist/ is what ships (Dockerfile, `npm pack`).
// `--single` writes one CommonJS file without chunks instead, the input of the single executable
// (scripts/build-sea.ts): Node 24 runs only one CommonJS script inside an executable.
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join, relative, resolve } from 'node:path';
import { build } from 'esbuild';
import type { BuildOptions } from 'esbuild';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** Where the bundle goes, relative to the repository root. */
export const DIST_DIR = 'dist';

/** What `bundle` wrote. */
export interface Bundle {
  /** The file Node runs. */
  readonly entry: string;
  readonly files: number;
  readonly bytes: number;
}

const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { readonly version: string };

/** Options both layouts share: every dependency inlined, Node 24, the version baked in. */
const COMMON: BuildOptions = {
  absWorkingDir: repoRoot,
  entryPoints: { tagpin: 'src/main.ts' },
  bundle: true,
  platform: 'node',
  target: 'node24',
  define: { 'globalThis.TAGPIN_BUILD_VERSION': JSON.stringify(version) },
  // Node's own URL in place of a fallback package that costs memory and a warning (scripts/shims/whatwg-url.cjs).
  alias: { 'whatwg-url': './scripts/shims/whatwg-url.cjs' },
  // Whitespace and syntax only: names stay, so stack traces still read. A smaller source is less for V8 to
  // hold and pre-parse: about 8 MiB less RSS for `tagpin serve` (BENCHMARKS.md, "Memory").
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'linked',
  logLevel: 'warning',
};

/** The shipped layout: ES modules, with chunks that load only when a command needs them. */
const CHUNKED: BuildOptions = {
  // Chunks keep `import('./server/index.ts')` lazy: the CLI commands never load the server's dependencies.
  splitting: true,
  format: 'esm',
  chunkNames: 'chunks/[name]-[hash]',
  // Some dependencies are CommonJS and call require() for Node's built-ins.
  banner: { js: "import { createRequire as __tagpinCreateRequire } from 'node:module'; const require = __tagpinCreateRequire(import.meta.url);" },
};

/** One CommonJS file: dynamic imports become inline requires, import.meta.url names the file itself. */
const SINGLE: BuildOptions = {
  format: 'cjs',
  outExtension: { '.js': '.cjs' },
  banner: { js: "const __tagpinFileUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: { ...COMMON.define, 'import.meta.url': '__tagpinFileUrl' },
};

/** Empties `outdir` and bundles into it, as chunks or (`single`) as one CommonJS file. */
export async function bundle(outdir: string, single = false): Promise<Bundle> {
  await rm(outdir, { recursive: true, force: true });
  const result = await build({ ...COMMON, ...(single ? SINGLE : CHUNKED), outdir, metafile: true });
  const outputs = Object.values(result.metafile.outputs);
  return {
    entry: join(outdir, single ? 'tagpin.cjs' : 'tagpin.js'),
    files: outputs.length,
    bytes: outputs.reduce((sum, output) => sum + output.bytes, 0),
  };
}

if (import.meta.main) {
  // `--outdir DIR` builds elsewhere (the tests do, so that two runs never share a folder).
  const flag = process.argv.indexOf('--outdir');
  const outdir = flag === -1 ? join(repoRoot, DIST_DIR) : resolve(process.argv[flag + 1] ?? DIST_DIR);
  const built = await bundle(outdir, process.argv.includes('--single'));
  process.stdout.write(`built ${relative(process.cwd(), built.entry)} (${String(built.files)} files, ${(built.bytes / 1024 / 1024).toFixed(1)} MiB)\n`);
}
