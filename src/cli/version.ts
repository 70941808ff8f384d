// `tagpin version`: the package version and the Node.js running it.
import { readFile } from 'node:fs/promises';

/** Set by `npm run build` in the bundle; the sources read package.json instead. */
const BUILT_VERSION: unknown = (globalThis as { readonly TAGPIN_BUILD_VERSION?: unknown }).TAGPIN_BUILD_VERSION;

/** `tagpin <version>` and `node <version>`, one per line. */
export async function versionText(): Promise<string> {
  const version = typeof BUILT_VERSION === 'string' ? BUILT_VERSION : await packageVersion();
  return `tagpin ${version}\nnode ${process.version}\n`;
}

async function packageVersion(): Promise<string> {
  const text = await readFile(new URL('../../package.json', import.meta.url), 'utf8');
  const { version } = JSON.parse(text) as { readonly version?: unknown };
  return typeof version === 'string' ? version : 'unknown';
}
