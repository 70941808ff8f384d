// Runs the tagpin CLI as a real child process and prepares the files it reads.
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROXY_VARIABLES } from './http-proxy.ts';
import { mainScript, repoRoot } from './paths.ts';

/** Where the manifest fixtures live. */
export const manifestsDir = join(repoRoot, 'test', 'fixtures', 'manifests');
/** The host the fixtures name, replaced by the test registry's address. */
export const placeholderHost = 'registry.invalid';

/** What a CLI run left behind. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of `runCli`. */
export interface RunOptions {
  readonly stdin?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** The program to run instead of `node src/main.ts` (for the launcher tests). */
  readonly command?: readonly string[];
}

const RUN_TIMEOUT_MS = 60_000;

/**
 * Runs `tagpin ARGS…` and collects its exit code and output; never inherits $TAGPIN_CONFIG, $TAGPIN_DEBUG,
 * $KUBECONFIG, $KUBERNETES_SERVICE_HOST or the proxy variables (`options.env` may set them).
 */
export async function runCli(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env, TAGPIN_CONFIG: undefined, TAGPIN_DEBUG: undefined, KUBECONFIG: undefined, KUBERNETES_SERVICE_HOST: undefined };
  for (const name of PROXY_VARIABLES) env[name] = undefined;
  Object.assign(env, options.env);
  const [program, ...prefix] = options.command ?? [process.execPath, mainScript];
  if (program === undefined) throw new Error('runCli needs a program');
  const child = spawn(program, [...prefix, ...args], { cwd: options.cwd ?? repoRoot, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  child.stdin.on('error', () => undefined);
  child.stdin.end(options.stdin ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  try {
    const code = await new Promise<number | null>((done, fail) => {
      child.on('error', fail);
      child.on('close', (exitCode) => {
        done(exitCode);
      });
    });
    return { code, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') };
  } finally {
    clearTimeout(timer);
  }
}

/** The lines of `text` without the empty one after the final newline. */
export function lines(text: string): readonly string[] {
  const all = text.split('\n');
  if (all.at(-1) === '') all.pop();
  return all;
}

/** A fresh temporary directory; remove it with `rm(dir, {recursive: true, force: true})`. */
export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'tagpin-cli-'));
}

/** Removes a temporary directory. */
export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A fixture's text with the placeholder host replaced by `host`. */
export async function fixtureText(name: string, host: string): Promise<string> {
  return (await readFile(join(manifestsDir, name), 'utf8')).replaceAll(placeholderHost, host);
}

/** Copies a fixture file or directory into `dir`, pointing its images at `host`; returns the copy's path. */
export async function copyFixture(name: string, dir: string, host: string): Promise<string> {
  const target = join(dir, name);
  await cp(join(manifestsDir, name), target, { recursive: true });
  for (const file of await listFiles(target)) {
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replaceAll(placeholderHost, host));
  }
  return target;
}

async function listFiles(path: string): Promise<readonly string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const files: string[] = [];
  for (const entry of await readdir(path, { withFileTypes: true })) files.push(...(await listFiles(join(path, entry.name))));
  return files;
}

/** Writes a tagpin config file; returns its path. */
export async function writeConfig(dir: string, name: string, yaml: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, yaml);
  return path;
}

/** `text` with every character a RegExp reads specially escaped, to match it literally inside a pattern. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
