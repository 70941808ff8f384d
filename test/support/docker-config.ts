// Docker config.json files for tests: `auths` entries with a login or an identity token.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One `auths` entry: a login (written as `auth`, base64 user:password, the way `docker login` does), or an identity token. */
export type DockerConfigEntry = { readonly username: string; readonly password: string } | { readonly identitytoken: string };

/** Writes a docker config.json with `auths` for these hosts into `dir` (a new file each call) and returns its path. */
export async function writeDockerConfig(dir: string, auths: Readonly<Record<string, DockerConfigEntry>>): Promise<string> {
  const file = join(dir, `docker-config-${randomBytes(6).toString('hex')}.json`);
  const written = Object.fromEntries(
    Object.entries(auths).map(([host, entry]) => [
      host,
      'identitytoken' in entry ? entry : { auth: Buffer.from(`${entry.username}:${entry.password}`).toString('base64') },
    ]),
  );
  await writeFile(file, JSON.stringify({ auths: written }, null, 2));
  return file;
}
