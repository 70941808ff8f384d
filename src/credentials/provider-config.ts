// Reading a kubelet CredentialProviderConfig (kubelet.config.k8s.io/v1) as kubelet validates it.
import { ConfigError } from '../errors/index.ts';
import { isRecord } from '../json/index.ts';
import { parseKeyLocation } from './keyring.ts';

/** The only config version read. */
export const CONFIG_API_VERSION = 'kubelet.config.k8s.io/v1';
/** The only exec protocol version spoken. */
export const PROVIDER_API_VERSION = 'credentialprovider.kubelet.k8s.io/v1';

/** One `providers[]` entry. */
export interface ProviderSpec {
  /** The plugin's file name in the bin directory. */
  readonly name: string;
  /** Image patterns the plugin is asked about (kubelet keyring rules). */
  readonly matchImages: readonly string[];
  /** How long an answer without `cacheDuration` is reused; 0: not at all. */
  readonly defaultCacheMs: number;
  readonly apiVersion: string;
  readonly args: readonly string[];
  /** Added to tagpin's own environment, overriding it. */
  readonly env: Readonly<Record<string, string>>;
  /** `providers[0]`, for messages. */
  readonly field: string;
}

const UNITS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds of a Go duration (`12h`, `1m30s`, `500ms`, `0`, `0s`), as a metav1.Duration holds it;
 * undefined when `text` is not one. A leading `-` is kept, for the caller to refuse.
 */
export function parseGoDuration(text: string): number | undefined {
  const sign = text.startsWith('-') ? -1 : 1;
  const rest = text.replace(/^[-+]/, '');
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  let consumed = 0;
  for (const match of rest.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    if (match.index !== consumed) return undefined;
    consumed += match[0].length;
    total += Number(match[1]) * (UNITS[match[2] ?? ''] ?? Number.NaN);
  }
  return consumed === rest.length && Number.isFinite(total) ? sign * total : undefined;
}

/**
 * Reads a parsed CredentialProviderConfig, with kubelet's rules: `apiVersion: kubelet.config.k8s.io/v1`,
 * `kind: CredentialProviderConfig`, at least one provider; each with a unique plain `name`, at least
 * one `matchImages` pattern, `defaultCacheDuration` (a duration ≥ 0),
 * `apiVersion: credentialprovider.kubelet.k8s.io/v1`, and optional `args` and `env` (`name`, `value`).
 * `tokenAttributes` (service account tokens for the plugin) is refused: tagpin has no pod to request them for.
 * @throws ConfigError `registries.credentialProviders.config FILE: FIELD RULE (got …)`
 */
export function parseProviderConfig(document: unknown, file: string): readonly ProviderSpec[] {
  const fail = (field: string, rule: string): ConfigError =>
    new ConfigError(`registries.credentialProviders.config ${file}: ${field} ${rule}`, { where: 'registries.credentialProviders.config' });
  if (!isRecord(document)) throw fail('the document', 'must be a CredentialProviderConfig mapping');
  if (document['apiVersion'] !== CONFIG_API_VERSION) throw fail('apiVersion', `must be ${CONFIG_API_VERSION} (got ${describe(document['apiVersion'])})`);
  if (document['kind'] !== 'CredentialProviderConfig') throw fail('kind', `must be CredentialProviderConfig (got ${describe(document['kind'])})`);
  const extra = Object.keys(document).find((key) => !['apiVersion', 'kind', 'providers'].includes(key));
  if (extra !== undefined) throw fail(extra, 'is not a CredentialProviderConfig field (fields: apiVersion, kind, providers)');
  const providers = document['providers'];
  if (!Array.isArray(providers) || providers.length === 0) throw fail('providers', 'must list at least one provider');
  const names = new Set<string>();
  return providers.map((entry: unknown, index) => {
    const field = `providers[${String(index)}]`;
    if (!isRecord(entry)) throw fail(field, 'must be a mapping');
    const known = ['name', 'matchImages', 'defaultCacheDuration', 'apiVersion', 'args', 'env'];
    if (Object.hasOwn(entry, 'tokenAttributes')) {
      throw fail(`${field}.tokenAttributes`, 'is not supported: tagpin runs plugins for no pod, so it has no service account token to give them');
    }
    const unknown = Object.keys(entry).find((key) => !known.includes(key));
    if (unknown !== undefined) throw fail(`${field}.${unknown}`, `is not a provider field (fields: ${known.join(', ')})`);

    const name = entry['name'];
    if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || /[/\s]/.test(name)) {
      throw fail(`${field}.name`, `must be the plugin's file name, without "/" or spaces (got ${describe(name)})`);
    }
    if (names.has(name)) throw fail(`${field}.name`, `repeats provider ${JSON.stringify(name)}`);
    names.add(name);

    const matchImages = entry['matchImages'];
    if (!Array.isArray(matchImages) || matchImages.length === 0) throw fail(`${field}.matchImages`, 'must list at least one image pattern');
    matchImages.forEach((pattern: unknown, i) => {
      if (typeof pattern !== 'string' || parseKeyLocation(pattern) === undefined) {
        throw fail(`${field}.matchImages[${String(i)}]`, `must be an image pattern like *.dkr.ecr.*.amazonaws.com or registry.io:8080/path (got ${describe(pattern)})`);
      }
    });

    const duration = entry['defaultCacheDuration'];
    const defaultCacheMs = typeof duration === 'string' ? parseGoDuration(duration) : undefined;
    if (defaultCacheMs === undefined || defaultCacheMs < 0) {
      throw fail(`${field}.defaultCacheDuration`, `must be a duration of 0 or more, like 12h, 10m or 0s (got ${describe(duration)})`);
    }

    if (entry['apiVersion'] !== PROVIDER_API_VERSION) {
      throw fail(`${field}.apiVersion`, `must be ${PROVIDER_API_VERSION} (got ${describe(entry['apiVersion'])})`);
    }

    const args = entry['args'] ?? [];
    if (!Array.isArray(args) || !args.every((arg): arg is string => typeof arg === 'string')) {
      throw fail(`${field}.args`, 'must be a list of strings');
    }

    const env: Record<string, string> = {};
    const vars = entry['env'] ?? [];
    if (!Array.isArray(vars)) throw fail(`${field}.env`, 'must be a list of {name, value}');
    vars.forEach((variable: unknown, i) => {
      const at = `${field}.env[${String(i)}]`;
      if (!isRecord(variable) || typeof variable['name'] !== 'string' || variable['name'] === '' || typeof (variable['value'] ?? '') !== 'string') {
        throw fail(at, 'must be {name, value} with a non-empty name and a string value');
      }
      env[variable['name']] = (variable['value'] ?? '') as string;
    });

    return { name, matchImages: matchImages as string[], defaultCacheMs, apiVersion: PROVIDER_API_VERSION, args, env, field };
  });
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return Array.isArray(value) ? 'a list' : 'a mapping';
}
