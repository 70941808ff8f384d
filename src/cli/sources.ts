// Finds the inputs of pin and check: files as given, directories walked for manifests, stdin read once.
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { InputError } from '../errors/index.ts';
import { isDockerfileName } from './dockerfile.ts';

/** Name under which stdin appears in messages and in `check` output. */
export const STDIN_NAME = '<stdin>';

/** Extensions a directory is searched for, besides Dockerfiles (`isDockerfileName`). */
const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Directory levels followed before giving up (symlink loops are also caught by real path). */
const MAX_DEPTH = 64;

/** One input: a file, or stdin. */
export interface ManifestSource {
  /** How messages name it: the path as found, or `<stdin>`. */
  readonly name: string;
  /** The file to rewrite with `-w`; undefined for stdin. */
  readonly path: string | undefined;
  readonly text: string;
}

/** What one `-f` argument stands for. */
export interface SourceGroup {
  /** The argument as given. */
  readonly path: string;
  /** True for a directory: its files were found by name, not named by the user. */
  readonly walked: boolean;
  /** Its inputs not already read for an earlier argument. */
  readonly sources: readonly ManifestSource[];
  /** True when some of its inputs were left out as already read. */
  readonly repeated: boolean;
}

/**
 * Reads every `-f` argument: files as given, directories recursively (manifest extensions and
 * Dockerfile names only, in name order), `-` from stdin (read once, however often it is named).
 * @throws InputError naming the path that cannot be read
 */
export async function readSources(paths: readonly string[], readStdin: () => Promise<string>): Promise<readonly SourceGroup[]> {
  const groups: SourceGroup[] = [];
  const seen = new Set<string>();
  for (const path of paths) {
    const sources: ManifestSource[] = [];
    let repeated = false;
    let walked = false;
    if (path === '-') {
      repeated = seen.has(STDIN_NAME);
      if (!repeated) sources.push({ name: STDIN_NAME, path: undefined, text: await readStdin() });
      seen.add(STDIN_NAME);
    } else if ((await statInput(path)).isDirectory()) {
      walked = true;
      for (const file of await listDirectory(path, 0, new Set())) if (!(await addFile(file, sources, seen))) repeated = true;
    } else {
      repeated = !(await addFile(path, sources, seen));
    }
    groups.push({ path, walked, sources, repeated });
  }
  return groups;
}

/** Reads `path` into `sources` unless it was read before; false when it was. */
async function addFile(path: string, sources: ManifestSource[], seen: Set<string>): Promise<boolean> {
  const real = await realpath(path).catch(() => path);
  if (seen.has(real)) return false;
  seen.add(real);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${path}: ${systemReason(err)}`, { where: path, cause: err });
  }
  sources.push({ name: path, path, text });
  return true;
}

async function statInput(path: string): Promise<Awaited<ReturnType<typeof stat>>> {
  try {
    return await stat(path);
  } catch (err) {
    throw new InputError(`cannot read ${path}: ${systemReason(err)}`, { where: path, cause: err });
  }
}

async function listDirectory(dir: string, depth: number, visited: Set<string>): Promise<readonly string[]> {
  const real = await realpath(dir);
  if (visited.has(real) || depth > MAX_DEPTH) return [];
  visited.add(real);
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new InputError(`cannot read directory ${dir}: ${systemReason(err)}`, { where: dir, cause: err });
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      const target = await stat(path).catch(() => undefined);
      isDir = target?.isDirectory() ?? false;
      isFile = target?.isFile() ?? false;
    }
    if (isDir) files.push(...(await listDirectory(path, depth + 1, visited)));
    else if (isFile && (MANIFEST_EXTENSIONS.has(extname(entry.name).toLowerCase()) || isDockerfileName(entry.name))) files.push(path);
  }
  return files;
}

function systemReason(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}
