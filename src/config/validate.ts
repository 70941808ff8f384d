// Validation of parsed config data against the schema, merged over the defaults.
import { ConfigError } from '../errors/index.ts';
import { DEFAULT_CONFIG, deepFreeze } from './defaults.ts';
import { OnError, ValidateAction } from './types.ts';
import type { Config, CredentialProvidersConfig } from './types.ts';
import { Problem, boolean, describe, integer, list, mapping, nullable, oneOf, rejectUnknown, text } from './checks.ts';
import type { Field } from './checks.ts';
import { customKind, kindName, settleKinds } from './workloads.ts';
import { PRESET_NAMES } from '../workload/index.ts';
import { validateHostGlob, validateHostPort } from './hosts.ts';
import { isMirrorUrl, mirroredRegistry, parseMirrorUrl } from './mirrors.ts';

/** Section keys mapped to their checks; the section's value type follows from the checks. */
type SectionSpec<S> = { readonly [K in keyof S]: Field<S[K]> };

const OUTPUTS = ['tag-digest', 'digest'] as const;

const SPEC: { readonly [K in keyof Config]: SectionSpec<Config[K]> } = {
  mutate: {
    enabled: boolean,
    output: oneOf(OUTPUTS),
    kinds: list(kindName),
  },
  workloads: {
    presets: list(oneOf(PRESET_NAMES)),
    customKinds: list(customKind),
  },
  validate: {
    action: oneOf(Object.values(ValidateAction)),
    denyLatest: boolean,
    denyUntagged: boolean,
    mutableTags: list(regex),
    allowedTags: list(regex),
    requireDigest: boolean,
  },
  exclude: {
    namespaces: list(text),
    images: list(text),
  },
  registries: {
    insecure: list(hostPort),
    caFile: nullable(text),
    allow: list(hostGlob),
    privateHosts: list(hostGlob),
    dockerConfig: nullable(text),
    mirrors,
    credentialProviders: nullable(providerFiles),
  },
  resolve: {
    // The API server gives a webhook at most 30 s, so a longer budget could never be used.
    timeoutMs: integer(100, 30_000),
    onError: oneOf(Object.values(OnError)),
  },
  cache: {
    ttlSeconds: integer(0),
    maxEntries: integer(0),
  },
  server: {
    port: integer(1, 65_535),
    metricsPort: integer(1, 65_535),
    tlsCert: nullable(text),
    tlsKey: nullable(text),
  },
  audit: {
    enabled: boolean,
    intervalSeconds: integer(5, 7 * 24 * 3600),
    lookupsPerSecond: integer(1, 1000),
    leaseNamespace: nullable(text),
    leaseName: text,
  },
};

/**
 * Validates parsed YAML (undefined for an empty file) and merges it over DEFAULT_CONFIG.
 * @throws ConfigError `config SOURCE: KEY.PATH rule (got VALUE)`
 */
export function validateConfig(data: unknown, source: string): Config {
  try {
    const config = checkSections(data);
    checkCrossKeys(config);
    return deepFreeze(config);
  } catch (err) {
    if (err instanceof Problem) {
      throw new ConfigError(`config ${source}: ${err.message}`, { where: err.path });
    }
    throw err;
  }
}

function checkSections(data: unknown): Config {
  if (data === undefined || data === null) return DEFAULT_CONFIG;
  const top = mapping(data, '');
  rejectUnknown(top, Object.keys(SPEC), '');
  const merged: Record<string, unknown> = {};
  for (const section of Object.keys(SPEC) as (keyof Config)[]) {
    merged[section] = checkSection(section, top[section]);
  }
  const config = merged as unknown as Config;
  const given = top['mutate'];
  const kindsGiven = given !== null && typeof given === 'object' && Object.hasOwn(given, 'kinds');
  return { ...config, mutate: { ...config.mutate, kinds: settleKinds(config, kindsGiven) } };
}

function checkSection<K extends keyof Config>(section: K, data: unknown): Config[K] {
  const defaults = DEFAULT_CONFIG[section];
  // A section written with nothing under it (`mutate:`) means "all defaults", as for a missing one.
  if (data === undefined || data === null) return defaults;
  const spec = SPEC[section] as Record<string, Field<unknown>>;
  const given = mapping(data, section);
  rejectUnknown(given, Object.keys(spec), section);
  const result: Record<string, unknown> = { ...defaults };
  for (const [key, check] of Object.entries(spec)) {
    if (Object.hasOwn(given, key)) result[key] = check(given[key], `${section}.${key}`);
  }
  return result as unknown as Config[K];
}

function checkCrossKeys(config: Config): void {
  const { server } = config;
  if ((server.tlsCert === null) !== (server.tlsKey === null)) {
    const missing = server.tlsCert === null ? 'server.tlsCert' : 'server.tlsKey';
    throw new Problem(missing, `server.tlsCert and server.tlsKey must be set together (${missing} is missing)`);
  }
  if (server.port === server.metricsPort) {
    throw new Problem('server.metricsPort', `server.metricsPort must differ from server.port (both ${String(server.port)})`);
  }
}

/** Tag patterns match the whole tag: `v1.*` must not accept `xv1-evil`. */
function regex(value: unknown, path: string): RegExp {
  const source = text(value, path);
  try {
    return new RegExp(`^(?:${source})$`);
  } catch (err) {
    const reason = err instanceof Error ? err.message.replace(/^Invalid regular expression: /, '') : String(err);
    throw new Problem(path, `${path} is not a valid regex: ${reason}`);
  }
}

function hostPort(value: unknown, path: string): string {
  const host = text(value, path);
  const problem = validateHostPort(host);
  if (problem !== undefined) throw new Problem(path, `${path} ${problem} (got ${describe(value)})`);
  return host;
}

function hostGlob(value: unknown, path: string): string {
  const glob = text(value, path);
  const problem = validateHostGlob(glob);
  if (problem !== undefined) throw new Problem(path, `${path} ${problem} (got ${describe(value)})`);
  return glob;
}

/**
 * `registries.mirrors`: registries (keys normalized, Docker Hub's names folded into `docker.io`) to
 * lists of mirror URLs (normalized, repeats dropped). Two keys naming one registry are refused: which
 * list comes first would be a guess.
 */
function mirrors(value: unknown, path: string): Readonly<Record<string, readonly string[]>> {
  const given = mapping(value, path);
  const result: Record<string, readonly string[]> = {};
  const keyOf = new Map<string, string>();
  for (const [key, urls] of Object.entries(given)) {
    const at = `${path}[${key}]`;
    const named = mirroredRegistry(key);
    if ('problem' in named) throw new Problem(at, `${path} key ${describe(key)} ${named.problem}; keys name the registry mirrored`);
    const earlier = keyOf.get(named.registry);
    if (earlier !== undefined) {
      throw new Problem(at, `${at} and ${path}[${earlier}] both name ${named.registry}; merge them into one list`);
    }
    keyOf.set(named.registry, key);
    result[named.registry] = [...new Set(list(mirrorUrl)(urls, at))];
  }
  return result;
}

function mirrorUrl(value: unknown, path: string): string {
  const parsed = parseMirrorUrl(text(value, path));
  if (!isMirrorUrl(parsed)) throw new Problem(path, `${path} ${parsed.problem} (got ${describe(value)})`);
  return parsed.url;
}

/** `{config: FILE, binDir: DIR}`, both required: kubelet needs both flags too. */
function providerFiles(value: unknown, path: string): CredentialProvidersConfig {
  const given = mapping(value, path);
  rejectUnknown(given, ['config', 'binDir'], path);
  for (const key of ['config', 'binDir']) {
    if (!Object.hasOwn(given, key)) throw new Problem(`${path}.${key}`, `${path}.${key} is missing (set both config and binDir)`);
  }
  return { config: text(given['config'], `${path}.config`), binDir: text(given['binDir'], `${path}.binDir`) };
}

