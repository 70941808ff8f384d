// docker credential helpers and kubelet credential provider plugins as real executables, scripted by a
// spec file the test rewrites and recording every run in a log file the test reads.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before } from 'node:test';
import { releaseDir, removeOnExit } from './exit-cleanup.ts';
import { lookupKit } from './lookups.ts';
import type { LookupKit } from './lookups.ts';
import { createPki } from './pki.ts';
import { startRegistry } from './registry.ts';
import type { TestRegistry } from './registry.ts';

/** What one run of the program does. */
export interface Behaviour {
  readonly stdout?: string;
  readonly stderr?: string;
  /** @default 0 */
  readonly exitCode?: number;
  /** Never answers (gives up by itself after 30 s, so nothing outlives a broken test for long). */
  readonly hang?: boolean;
}

/** How the program answers: by request key (the stdin of a helper, the `image` of a plugin request), else `default`. */
export interface ProgramSpec {
  readonly default: Behaviour;
  readonly answers?: Readonly<Record<string, Behaviour>>;
  /** Environment variables whose values each run records. */
  readonly recordEnv?: readonly string[];
}

/** One run, as the program recorded it before answering. */
export interface ProgramRun {
  readonly argv: readonly string[];
  readonly input: string;
  readonly pid: number;
  readonly env: Readonly<Record<string, string | null>>;
}

/** A program written by the test. */
export interface CredentialProgram {
  /** Its absolute path. */
  readonly path: string;
  /** Every run so far, in order. */
  runs(): readonly ProgramRun[];
  /** Changes what later runs do. */
  behave(spec: ProgramSpec): Promise<void>;
}

/** A directory for programs, removed when the test process exits (or by `removeProgramDir`). */
export async function programDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tagpin-credential-programs-'));
  removeOnExit(dir);
  return dir;
}

/** Removes a directory made by `programDir`. */
export async function removeProgramDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  releaseDir(dir);
}

/** `PATH` with `dir` in front, for the process that must find helpers there. */
export function pathWith(dir: string): string {
  return [dir, process.env.PATH ?? ''].join(delimiter);
}

/** The program: logs the run, then answers as the spec file says for its request. */
function script(log: string, spec: string): string {
  return `#!${process.execPath}
const fs = require('node:fs');
const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => {
  const input = Buffer.concat(chunks).toString('utf8');
  const spec = JSON.parse(fs.readFileSync(${JSON.stringify(spec)}, 'utf8'));
  const env = {};
  for (const name of spec.recordEnv ?? []) env[name] = process.env[name] ?? null;
  fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify({ argv: process.argv.slice(2), input, pid: process.pid, env }) + '\\n');
  let key = input.trim();
  try {
    const request = JSON.parse(input);
    if (request && typeof request.image === 'string') key = request.image;
  } catch {}
  const behaviour = (spec.answers ?? {})[key] ?? spec.default;
  if (behaviour.hang) {
    setTimeout(() => process.exit(9), 30000);
    return;
  }
  if (behaviour.stderr) process.stderr.write(behaviour.stderr);
  if (behaviour.stdout) process.stdout.write(behaviour.stdout);
  process.exitCode = behaviour.exitCode ?? 0;
});
`;
}

/** Writes an executable `name` into `dir` (mode 755) that behaves as `spec` says. */
export async function writeProgram(dir: string, name: string, spec: ProgramSpec): Promise<CredentialProgram> {
  const path = join(dir, name);
  const log = join(dir, `${name}.runs.jsonl`);
  const specFile = join(dir, `${name}.spec.json`);
  await writeFile(specFile, JSON.stringify(spec));
  await writeFile(path, script(log, specFile));
  await chmod(path, 0o755);
  return {
    path,
    runs: () => {
      let text: string;
      try {
        text = readFileSync(log, 'utf8');
      } catch {
        return [];
      }
      return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as ProgramRun);
    },
    behave: (next) => writeFile(specFile, JSON.stringify(next)),
  };
}

/** Whether a process is still alive. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A docker credential helper's answer: `{"ServerURL","Username","Secret"}`. */
export function helperAnswer(serverUrl: string, username: string, secret: string): Behaviour {
  return { stdout: JSON.stringify({ ServerURL: serverUrl, Username: username, Secret: secret }) };
}

/** The registry's own login as a helper answer. */
export function helperLogin(registry: TestRegistry): Behaviour {
  if (registry.username === undefined || registry.password === undefined) throw new Error(`a ${registry.setup} registry has no login`);
  return helperAnswer(registry.host, registry.username, registry.password);
}

/** What docker-credential-helpers print, with exit 1, when they hold nothing for the server. */
export const helperNotFound: Behaviour = { stdout: 'credentials not found in native keychain\n', exitCode: 1 };

/** A CredentialProviderResponse (credentialprovider.kubelet.k8s.io/v1). */
export function providerResponse(options: {
  readonly auth?: Readonly<Record<string, { readonly username: string; readonly password: string }>>;
  readonly cacheKeyType?: string;
  readonly cacheDuration?: string;
}): Behaviour {
  return {
    stdout: JSON.stringify({
      apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
      kind: 'CredentialProviderResponse',
      cacheKeyType: options.cacheKeyType ?? 'Registry',
      ...(options.cacheDuration === undefined ? {} : { cacheDuration: options.cacheDuration }),
      ...(options.auth === undefined ? {} : { auth: options.auth }),
    }),
  };
}

/** A provider answer granting the registry's own login for its host. */
export function providerLogin(registry: TestRegistry, extra: { readonly cacheKeyType?: string; readonly cacheDuration?: string } = {}): Behaviour {
  if (registry.username === undefined || registry.password === undefined) throw new Error(`a ${registry.setup} registry has no login`);
  return providerResponse({ auth: { [registry.host]: { username: registry.username, password: registry.password } }, ...extra });
}

/** A CredentialProviderConfig with `providers`, written into `dir` as YAML-compatible JSON; returns its path. */
export async function writeProviderConfig(dir: string, providers: readonly Readonly<Record<string, unknown>>[]): Promise<string> {
  const file = join(dir, `credential-providers-${String(Date.now())}-${String(Math.random()).slice(2, 8)}.json`);
  await writeFile(file, JSON.stringify({ apiVersion: 'kubelet.config.k8s.io/v1', kind: 'CredentialProviderConfig', providers }, null, 2));
  return file;
}

/** One provider entry with kubelet's required fields; `overrides` replace or add fields. */
export function provider(name: string, matchImages: readonly unknown[], overrides: Readonly<Record<string, unknown>> = {}): Readonly<Record<string, unknown>> {
  return { name, matchImages, defaultCacheDuration: '1h', apiVersion: 'credentialprovider.kubelet.k8s.io/v1', ...overrides };
}

/** What an in-process credential-program suite runs against; read it in tests or in a later `before`. */
export interface CredentialBench {
  /** Basic auth, and token auth (with its identity token), sharing one CA. */
  readonly basic: TestRegistry;
  readonly token: TestRegistry;
  /** Where the suite writes its programs. */
  readonly dir: string;
  /** Registry clients that trust the CA and may reach 127.0.0.1. */
  readonly kit: LookupKit;
  /** Resolves once the bench is up (a suite's own `before` may run alongside the bench's). */
  started(): Promise<void>;
}

/** Starts the bench in a `before` hook of the calling suite (once) and stops it in an `after` hook. */
export function credentialBench(): CredentialBench {
  let started: { basic: TestRegistry; token: TestRegistry; dir: string; caPem: string } | undefined;
  const need = () => {
    if (started === undefined) throw new Error('the credential bench starts in before(): use it in tests or a later before()');
    return started;
  };
  const kit = lookupKit(() => ({ ca: need().caPem, allow: ['127.0.0.1'] }));
  let starting: Promise<void> | undefined;
  const start = async (): Promise<void> => {
    const pki = await createPki();
    const [basic, token] = await Promise.all([startRegistry('basic', { pki }), startRegistry('token', { pki })]);
    started = { basic, token, dir: await programDir(), caPem: pki.caPem };
  };
  before(() => (starting ??= start()));
  after(async () => {
    await starting?.catch(() => undefined);
    await kit.closeAll();
    if (started === undefined) return;
    await Promise.all([started.basic.stop(), started.token.stop()]);
    await removeProgramDir(started.dir);
  });
  return {
    get basic() {
      return need().basic;
    },
    get token() {
      return need().token;
    },
    get dir() {
      return need().dir;
    },
    kit,
    started: () => (starting ??= start()),
  };
}
