// `npm run build`: bundles src/main.ts into dist/ as plain JavaScript for the image and installed CLI.
// Development runs the TypeScript directly; dist/ is what ships (Dockerfile, `npm pack`).
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join, relative, resolve } from 'node:path';
import { build } from 'esbuild';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** Where the bundle goes, relative to the repository root. */
export const DIST_DIR = 'dist';

const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { readonly version: string };

// `--outdir DIR` builds elsewhere (the tests do, so that two runs never share a folder).
const flag = process.argv.indexOf('--outdir');
const outdir = flag === -1 ? join(repoRoot, DIST_DIR) : resolve(process.argv[flag + 1] ?? DIST_DIR);
await rm(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: repoRoot,
  entryPoints: { tagpin: 'src/main.ts' },
  outdir,
  bundle: true,
  // Chunks keep `import('./server/index.ts')` lazy: the CLI commands never load the server's dependencies.
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  chunkNames: 'chunks/[name]-[hash]',
  // Some dependencies are CommonJS and call require() for Node's built-ins.
  banner: { js: "import { createRequire as __tagpinCreateRequire } from 'node:module'; const require = __tagpinCreateRequire(import.meta.url);" },
  define: { 'globalThis.TAGPIN_BUILD_VERSION': JSON.stringify(version) },
  // Whitespace and syntax only: names stay, so stack traces still read. A smaller source is less for V8 to
  // hold and pre-parse: about 8 MiB less RSS for `tagpin serve` (BENCHMARKS.md, "Memory").
  // Node's own URL in place of a fallback package that costs memory and a warning (scripts/shims/whatwg-url.cjs).
  alias: { 'whatwg-url': './scripts/shims/whatwg-url.cjs' },
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
});
const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
process.stdout.write(`built ${relative(process.cwd(), join(outdir, 'tagpin.js'))} (${String(Object.keys(result.metafile.outputs).length)} files, ${(bytes / 1024 / 1024).toFixed(1)} MiB)\n`);
