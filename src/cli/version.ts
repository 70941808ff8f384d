// `tagpin version`: the package version and the Node.js running it.
import { readFile } from 'node:fs/promises';

/** `tagpin <version>` and `node <version>`, one per line. */
export async function versionText(): Promise<string> {
  const text = await readFile(new URL('../../package.json', import.meta.url), 'utf8');
  const { version } = JSON.parse(text) as { readonly version?: unknown };
  return `tagpin ${typeof version === 'string' ? version : 'unknown'}\nnode ${process.version}\n`;
}
