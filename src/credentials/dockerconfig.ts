// Reading docker `config.json` and legacy `.dockercfg` documents into credentials; messages never carry secrets.
import { InputError } from '../errors/index.ts';
import { parseKeyLocation } from './keyring.ts';
import type { Credential } from './types.ts';
import { isRecord } from '../json/index.ts';

/**
 * Top-level keys of a docker `config.json` other than `auths`; a document with any of them but no
 * `auths` is a config.json without stored credentials (e.g. only `credsStore`), not a `.dockercfg`.
 */
const CONFIG_JSON_KEYS: ReadonlySet<string> = new Set([
  'credsStore',
  'credHelpers',
  'HttpHeaders',
  'psFormat',
  'imagesFormat',
  'detachKeys',
  'experimental',
  'currentContext',
  'plugins',
  'proxies',
  'aliases',
  'features',
  'stackOrchestrator',
]);

function quoteKey(key: string): string {
  return JSON.stringify(key.length > 100 ? `${key.slice(0, 100)}…` : key);
}

function fail(source: string, where: string, rule: string): InputError {
  return new InputError(`docker config ${source}: ${where} ${rule}`, { where });
}

/** `user:password` from a base64 `auth` field, padded or not; undefined when it is anything else. */
function decodeAuth(field: string): { readonly username: string; readonly password: string } | undefined {
  const text = field.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const body = text.replace(/=+$/, '');
  const padded = body.length !== text.length;
  if (padded ? text.length % 4 !== 0 : body.length % 4 === 1) return undefined;
  const decoded = Buffer.from(body, 'base64').toString('utf8');
  // Split on the first `:` only: passwords may contain colons, user names may not.
  const colon = decoded.indexOf(':');
  if (colon === -1) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function optionalString(entry: Readonly<Record<string, unknown>>, field: string, where: string, source: string): string | undefined {
  const value = entry[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw fail(source, `${where}.${field}`, 'is not a string');
  return value;
}

function parseEntry(value: unknown, key: string, where: string, source: string): Credential | undefined {
  if (!isRecord(value)) throw fail(source, where, 'is not an object');
  if (parseKeyLocation(key) === undefined) throw fail(source, where, 'does not name a registry host');
  let username = optionalString(value, 'username', where, source);
  let password = optionalString(value, 'password', where, source);
  const identityToken = optionalString(value, 'identitytoken', where, source);
  const auth = optionalString(value, 'auth', where, source);
  if (auth !== undefined && auth !== '') {
    const decoded = decodeAuth(auth);
    if (decoded === undefined) throw fail(source, `${where}.auth`, 'is not base64 user:password');
    ({ username, password } = decoded);
  }
  // An entry with nothing to send (e.g. only `email`) would turn anonymous pulls into failed logins.
  if (!username && !password && !identityToken) return undefined;
  return {
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    ...(identityToken === undefined || identityToken === '' ? {} : { identityToken }),
    source,
    key,
  };
}

function toDocument(document: unknown, source: string): unknown {
  if (typeof document !== 'string' && !(document instanceof Uint8Array)) return document;
  const text = typeof document === 'string' ? document : Buffer.from(document).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // JSON.parse quotes the text it choked on, which may be a password: say only what is wrong.
    throw new InputError(`docker config ${source}: is not valid JSON`);
  }
}

/**
 * Reads the credentials of a docker `config.json` (`{"auths": {...}}`) or a legacy `.dockercfg`
 * (the same entries at top level), in document order. `document` is parsed JSON, or its text.
 * Entries: `auth` (base64 `user:password`, padded or not; overrides `username`/`password`),
 * `username`, `password`, `identitytoken`; entries with none of them are skipped.
 * @throws InputError naming `source` and the offending key, never a secret value
 */
export function parseDockerConfigEntries(document: unknown, source: string): readonly Credential[] {
  const parsed = toDocument(document, source);
  if (!isRecord(parsed)) throw new InputError(`docker config ${source}: is not a JSON object`);
  let entries: Readonly<Record<string, unknown>>;
  let prefix: string;
  if (Object.hasOwn(parsed, 'auths')) {
    const auths = parsed.auths;
    if (!isRecord(auths)) throw fail(source, 'auths', 'is not an object');
    entries = auths;
    prefix = 'auths';
  } else if (Object.keys(parsed).some((key) => CONFIG_JSON_KEYS.has(key))) {
    return [];
  } else {
    entries = parsed;
    prefix = '';
  }
  return Object.entries(entries).flatMap(([key, value]) => parseEntry(value, key, `${prefix}[${quoteKey(key)}]`, source) ?? []);
}
