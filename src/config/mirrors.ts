// The rules of `registries.mirrors`: which registry a key names, and what a mirror URL may be.
import { DOCKER_HUB, isDockerHubHost, splitHostPort } from '../reference/index.ts';
import { validateHostPort } from './hosts.ts';

/** A mirror URL taken apart: where requests go and how their paths begin. */
export interface MirrorUrl {
  /** The URL as tagpin writes it: lowercase host, no default port, no trailing slash (`https://mirror.corp/cache`). */
  readonly url: string;
  /** `https://mirror.corp`, `http://10.0.0.5:5000`. */
  readonly origin: string;
  /** `host[:port]` as the URL spells it (default port dropped); what credentials are matched against. */
  readonly host: string;
  /** The path of the registry API before `/<repository>/manifests/…`: `/v2`, `/cache/v2`, `/v2/dockerhub`. */
  readonly apiRoot: string;
  /** `http://`: plain HTTP, no TLS. */
  readonly plain: boolean;
}

/**
 * The registry a `registries.mirrors` key names, lowercase: Docker Hub's names (`index.docker.io`,
 * `registry-1.docker.io`) without a port are `docker.io`; anything else is `host[:port]` as given.
 * @returns the registry, or why the key is not one
 */
export function mirroredRegistry(key: string): { readonly registry: string } | { readonly problem: string } {
  const problem = validateHostPort(key);
  if (problem !== undefined) return { problem };
  const lower = key.toLowerCase();
  const split = splitHostPort(lower);
  return { registry: split?.port === undefined && isDockerHubHost(lower) ? DOCKER_HUB : lower };
}

/**
 * Reads a mirror URL: `http://` or `https://`, a host[:port], an optional path. The path follows
 * containerd's hosts.toml: none is `/v2`; one ending in `/v2` is the API root as it stands; any other
 * gets `/v2` appended (`/cache` → `/cache/v2`). A path that starts with `/v2/` is also taken as it
 * stands: that is the project-style root of Harbor, Artifactory and Nexus (`/v2/dockerhub`), which
 * containerd reaches with `override_path`.
 * @returns the parts, or why `text` is not a mirror URL
 */
export function parseMirrorUrl(text: string): MirrorUrl | { readonly problem: string } {
  const scheme = /^(https?):\/\/(?=[^/])/i.exec(text);
  if (scheme === null) return { problem: 'must be an http:// or https:// URL like https://mirror.corp:5000' };
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    return { problem: 'is not a valid URL' };
  }
  if (parsed.username !== '' || parsed.password !== '') {
    return { problem: "must not carry credentials (put them in the docker config under the mirror's host)" };
  }
  if (parsed.search !== '' || parsed.hash !== '' || text.includes('?') || text.includes('#')) {
    return { problem: 'must not have a query or fragment' };
  }
  const hostProblem = validateHostPort(parsed.host);
  if (hostProblem !== undefined) {
    return { problem: `has an invalid host ${JSON.stringify(parsed.host)} (DNS labels or a bracketed IPv6 literal, port 1-65535)` };
  }
  const path = parsed.pathname.replace(/\/{2,}/g, '/').replace(/\/$/, '');
  const apiRoot = path === '' ? '/v2' : path.endsWith('/v2') || path.startsWith('/v2/') ? path : `${path}/v2`;
  return { url: `${parsed.origin}${path}`, origin: parsed.origin, host: parsed.host, apiRoot, plain: parsed.protocol === 'http:' };
}

/** True when `parsed` is a MirrorUrl rather than a problem. */
export function isMirrorUrl(parsed: MirrorUrl | { readonly problem: string }): parsed is MirrorUrl {
  return !('problem' in parsed);
}
