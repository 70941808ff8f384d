// Kubelet's keyring: config keys matched to images by port, host-label globs and path prefix.
import { DOCKER_HUB, DOCKER_HUB_HOSTS, isDockerHubHost, parseReference, splitHostPort, stripBrackets } from '../reference/index.ts';
import { compileGlob, globMatches } from '../glob/index.ts';
import type { Glob } from '../glob/index.ts';
import type { Credential, Keyring, KeyringContext, StaticKeyring } from './types.ts';

/** Where a config key or an image points: host (lowercase, IPv6 without brackets), port, and path (`/a/b`, or '' for the whole host). */
export interface Location {
  readonly host: string;
  readonly port: string;
  readonly path: string;
}

/** Kubelet's split: the host without brackets, so an IPv6 address is one literal label, never a glob class; '' for no port. */
function keyHostPort(authority: string): { readonly host: string; readonly port: string } | undefined {
  const split = splitHostPort(authority);
  return split === undefined ? undefined : { host: stripBrackets(split.host), port: split.port ?? '' };
}

/**
 * Reads a docker config key the way kubelet does: schemeless keys count as https, a leading
 * `/v1/` or `/v2/` is dropped (`https://index.docker.io/v1/` → `index.docker.io`).
 * @returns undefined when the key names no host
 */
export function parseKeyLocation(key: string): Location | undefined {
  const scheme = /^https?:\/\//i.exec(key);
  const rest = scheme === null ? key : key.slice(scheme[0].length);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
  let path = authorityEnd === -1 ? '' : rest.slice(authorityEnd).replace(/[?#].*$/s, '');
  if (path.startsWith('/v1/') || path.startsWith('/v2/')) path = path.slice(3);
  if (path === '/') path = '';
  const hostPort = keyHostPort(authority);
  if (hostPort === undefined || hostPort.host === '') return undefined;
  // Host names are case-insensitive; kubelet compares them as written, which only loses matches.
  return { host: hostPort.host.toLowerCase(), port: hostPort.port, path };
}

/** Where a normalized image name (`docker.io/library/nginx`, `127.0.0.1:5000/app`) points, or undefined if it is no image. */
function imageLocation(image: string): Location | undefined {
  let registry: string;
  let repository: string;
  try {
    ({ registry, repository } = parseReference(image));
  } catch {
    return undefined;
  }
  const hostPort = keyHostPort(registry);
  if (hostPort === undefined) return undefined;
  return { host: hostPort.host.toLowerCase(), port: hostPort.port, path: `/${repository}` };
}

/** Whether a key's path covers the image's path, on `/` boundaries (`/team` covers `/team/app`, not `/teamx`). */
function pathCovers(keyPath: string, imagePath: string): boolean {
  if (keyPath === '') return true;
  if (keyPath.endsWith('/')) return imagePath.startsWith(keyPath);
  return imagePath === keyPath || imagePath.startsWith(`${keyPath}/`);
}

/** A config key compiled for matching. */
interface Pattern {
  readonly labels: readonly Glob[];
  readonly port: string;
  readonly path: string;
  /** Kubelet's index string, with Docker Hub's names folded together so their paths sort as one host. */
  readonly sortKey: string;
}

function compileKey(key: string): Pattern | undefined {
  const location = parseKeyLocation(key);
  if (location === undefined) return undefined;
  const labels: Glob[] = [];
  for (const label of hostLabels(location.host)) {
    const glob = compileGlob(label);
    // filepath.Match fails on a malformed pattern, and kubelet then treats the key as not matching.
    if (glob === undefined) return undefined;
    labels.push(glob);
  }
  const host = isDockerHubHost(location.host) ? DOCKER_HUB : location.host;
  const sortKey = `${host}${location.port === '' ? '' : `:${location.port}`}${location.path}`;
  return { labels, port: location.port, path: location.path, sortKey };
}

/** DNS labels of a host; an IPv6 address is a single label. */
function hostLabels(host: string): readonly string[] {
  return host.includes(':') ? [host] : host.split('.');
}

function hostMatches(labels: readonly Glob[], host: string): boolean {
  const parts = hostLabels(host);
  return parts.length === labels.length && labels.every((glob, i) => globMatches(glob, parts[i] ?? ''));
}

function patternMatches(pattern: Pattern, location: Location): boolean {
  const hosts = location.port === '' && isDockerHubHost(location.host) ? DOCKER_HUB_HOSTS : [location.host];
  return pattern.port === location.port && hosts.some((host) => hostMatches(pattern.labels, host)) && pathCovers(pattern.path, location.path);
}

/**
 * Whether any of `keys` matches an image, by the keyring's rules; kubelet matches a credential
 * provider's `matchImages` this way. Keys that name no host, or hold a malformed glob, match nothing.
 */
export function createKeyMatcher(keys: readonly string[]): (image: string) => boolean {
  const patterns = keys.flatMap((key) => compileKey(key) ?? []);
  return (image) => {
    const location = imageLocation(image);
    return location !== undefined && patterns.some((pattern) => patternMatches(pattern, location));
  };
}

/**
 * A keyring over `credentials`, each matched by its `key` with kubelet's rules: equal port, as many
 * host labels, each label a glob (`*.gcr.io` matches `us.gcr.io`, not `gcr.io`), the key's path a
 * prefix of the image's. Docker Hub's names (`docker.io`, `index.docker.io`, `registry-1.docker.io`)
 * are one registry. Credentials with a key that names no host, or a malformed glob, never match.
 */
export function createKeyring(credentials: readonly Credential[]): StaticKeyring {
  const entries = credentials.flatMap((credential) => {
    const pattern = compileKey(credential.key);
    return pattern === undefined ? [] : [{ credential, pattern }];
  });
  // Reverse order puts `quay.io/coreos` before `quay.io`; the sort is stable, so equal keys keep file order.
  entries.sort((a, b) => (a.pattern.sortKey < b.pattern.sortKey ? 1 : a.pattern.sortKey > b.pattern.sortKey ? -1 : 0));
  const match = (image: string): readonly Credential[] => {
    // Most keyrings are empty (a pod without pull secrets): nothing to parse the image for.
    if (entries.length === 0) return [];
    const location = imageLocation(image);
    if (location === undefined) return [];
    return entries.filter((entry) => patternMatches(entry.pattern, location)).map((entry) => entry.credential);
  };
  return { match, lookup: (image: string) => Promise.resolve(match(image)) };
}

/** A keyring that consults each of `keyrings` and returns all their matches, first keyring's first. */
export function mergeKeyrings(...keyrings: readonly Keyring[]): Keyring {
  return {
    async lookup(image: string, context: KeyringContext): Promise<readonly Credential[]> {
      const found = await Promise.all(keyrings.map((keyring) => keyring.lookup(image, context)));
      return found.flat();
    },
  };
}
