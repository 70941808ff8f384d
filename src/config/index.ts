// Loads and validates tagpin's YAML configuration into a readonly Config.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors/index.ts';
import { DEFAULT_CONFIG } from './defaults.ts';
import type { Config } from './types.ts';
import { validateConfig } from './validate.ts';
import { validateHostGlob, validateHostPort } from './hosts.ts';
import { isMirrorUrl, mirroredRegistry, parseMirrorUrl } from './mirrors.ts';
import { parseYaml } from './yaml.ts';

export type * from './types.ts';
export { SUPPORTED_KINDS } from '../workload/index.ts';
export { DEFAULT_CONFIG, DEFAULT_CONFIG_YAML } from './defaults.ts';
export { isMirrorUrl, mirroredRegistry, parseMirrorUrl } from './mirrors.ts';
export type { MirrorUrl } from './mirrors.ts';
export { parseYaml } from './yaml.ts';

/** Environment variable naming the config file when no `--config` is given. */
const CONFIG_ENV = 'TAGPIN_CONFIG';

/** Registry settings that command-line flags may override. */
export interface RegistryFlags {
  /** `--insecure-registry HOST[:PORT]` (repeatable): appended to `registries.insecure`. */
  readonly insecure?: readonly string[];
  /** `--allow-registry HOST` (repeatable, globs as in the config): appended to `registries.allow`. */
  readonly allow?: readonly string[];
  /** `--ca-file FILE`: replaces `registries.caFile`. */
  readonly caFile?: string;
  /** `--docker-config FILE`: replaces `registries.dockerConfig`. */
  readonly dockerConfig?: string;
  /** `--mirror HOST=URL` (repeatable), as written: appended to `registries.mirrors[HOST]`. */
  readonly mirrors?: readonly string[];
}

/**
 * Parses and validates YAML text. Unknown keys and wrong types fail with the key's path.
 * An empty document yields the defaults; every given key merges over its default.
 * @throws ConfigError naming `source`, the key path and the rule
 */
export function parseConfig(text: string, source: string): Config {
  return validateConfig(parseYaml(text, source), source);
}

/**
 * Reads and validates the config file at `path`, or at `$TAGPIN_CONFIG` when `path` is undefined;
 * the defaults when neither names a file.
 * @throws ConfigError when the file cannot be read or is invalid
 */
export async function loadConfig(path: string | undefined): Promise<Config> {
  const file = path ?? nonEmpty(process.env[CONFIG_ENV]);
  if (file === undefined) return DEFAULT_CONFIG;
  return parseConfig(await readSettingFile('config', file), file);
}

/**
 * Reads a file that a setting names (the config itself, `registries.caFile`, `server.tlsCert`, …).
 * @throws ConfigError `<key> <path>: cannot read file: <reason>`, with `where` set to `key`
 */
export async function readSettingFile(key: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : describeIoError(err);
    throw new ConfigError(`${key} ${path}: cannot read file: ${reason}`, { where: key === 'config' ? path : key, cause: err });
  }
}

/**
 * The config with command-line registry flags applied: `insecure` and `allow` entries are appended
 * (duplicates dropped), `--mirror` URLs appended to their registry's list (after the configured ones),
 * `caFile` and `dockerConfig` replace the configured values.
 * @throws ConfigError when an `--insecure-registry` value is not `host[:port]`, an `--allow-registry`
 *   value not a host glob, or a `--mirror` value not `HOST=URL`
 */
export function applyRegistryFlags(config: Config, flags: RegistryFlags): Config {
  const insecure = [...config.registries.insecure];
  for (const entry of flags.insecure ?? []) {
    const problem = validateHostPort(entry);
    if (problem !== undefined) {
      throw new ConfigError(`--insecure-registry ${JSON.stringify(entry)}: ${problem}`, { where: '--insecure-registry' });
    }
    if (!insecure.includes(entry)) insecure.push(entry);
  }
  const allow = [...config.registries.allow];
  for (const entry of flags.allow ?? []) {
    const problem = validateHostGlob(entry);
    if (problem !== undefined) {
      throw new ConfigError(`--allow-registry ${JSON.stringify(entry)}: ${problem}`, { where: '--allow-registry' });
    }
    if (!allow.includes(entry)) allow.push(entry);
  }
  for (const [flag, value] of [['--ca-file', flags.caFile], ['--docker-config', flags.dockerConfig]] as const) {
    if (value === '') throw new ConfigError(`${flag} needs a file path`, { where: flag });
  }
  const registries = Object.freeze({
    ...config.registries,
    insecure: Object.freeze(insecure),
    allow: Object.freeze(allow),
    caFile: flags.caFile ?? config.registries.caFile,
    dockerConfig: flags.dockerConfig ?? config.registries.dockerConfig,
    mirrors: withMirrorFlags(config.registries.mirrors, flags.mirrors ?? []),
  });
  return Object.freeze({ ...config, registries });
}

/** `mirrors` with each `--mirror HOST=URL` appended to HOST's list, normalized as the config's are. */
function withMirrorFlags(
  mirrors: Readonly<Record<string, readonly string[]>>,
  flags: readonly string[],
): Readonly<Record<string, readonly string[]>> {
  if (flags.length === 0) return mirrors;
  const merged = new Map(Object.entries(mirrors));
  for (const entry of flags) {
    const fail = (problem: string): never => {
      throw new ConfigError(`--mirror ${JSON.stringify(entry)}: ${problem}`, { where: '--mirror' });
    };
    const equals = entry.indexOf('=');
    if (equals === -1) return fail('must be HOST=URL, e.g. docker.io=https://mirror.corp');
    const named = mirroredRegistry(entry.slice(0, equals));
    if ('problem' in named) return fail(`HOST ${named.problem}`);
    const parsed = parseMirrorUrl(entry.slice(equals + 1));
    if (!isMirrorUrl(parsed)) return fail(`URL ${parsed.problem}`);
    const urls = merged.get(named.registry) ?? [];
    if (!urls.includes(parsed.url)) merged.set(named.registry, [...urls, parsed.url]);
  }
  return Object.freeze(Object.fromEntries([...merged].map(([registry, urls]) => [registry, Object.freeze([...urls])])));
}

/**
 * The docker config the CLI reads when neither `--docker-config` nor `registries.dockerConfig` names
 * one, as docker does: `$DOCKER_CONFIG/config.json` when DOCKER_CONFIG is set, else
 * `~/.docker/config.json`; undefined when that file does not exist.
 */
export function defaultDockerConfig(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string | undefined {
  const dir = nonEmpty(env['DOCKER_CONFIG']) ?? join(home, '.docker');
  const file = join(dir, 'config.json');
  return existsSync(file) ? file : undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function describeIoError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES') return 'permission denied';
    if (code === 'EISDIR') return 'is a directory';
    return err.message;
  }
  return String(err);
}
