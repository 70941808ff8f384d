// Building strings from a parsed reference: pinned output, normalized and familiar names.
import { InvalidReferenceError } from '../errors/index.ts';
import { digestProblem } from './digest.ts';
import { DOCKER_HUB, LEGACY_DOCKER_HUB, quote } from './parse.ts';
import type { ImageReference, OutputFormat } from './types.ts';

/** The host that serves Docker Hub's registry API; `docker.io` itself does not. */
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
/** Every name Docker Hub goes by: the reference name, the legacy index and the API host. */
export const DOCKER_HUB_HOSTS: readonly string[] = [DOCKER_HUB, LEGACY_DOCKER_HUB, DOCKER_HUB_API_HOST];

/**
 * The reference with `digest` appended in the chosen format, built from the name as written
 * (never normalized: `nginx` stays `nginx`). A digest already present is replaced.
 * @throws InvalidReferenceError when `digest` is not a valid sha256 or sha512 digest
 */
export function formatPinned(ref: ImageReference, digest: string, format: OutputFormat): string {
  const problem = digestProblem(digest);
  if (problem !== undefined) {
    throw new InvalidReferenceError(`cannot pin image ${quote(ref.original)}: ${problem}`, { image: ref.original });
  }
  switch (format) {
    case 'tag-digest':
      return `${ref.name}${ref.tag === undefined ? '' : `:${ref.tag}`}@${digest}`;
    case 'digest':
      return `${ref.name}@${digest}`;
    default:
      // Unreachable for typed callers; config validation rejects other values first.
      throw new InvalidReferenceError(`cannot pin image ${quote(ref.original)}: unknown output format ${quote(String(format))}`, {
        image: ref.original,
      });
  }
}

/** `registry/repository`, fully normalized: `nginx` → `docker.io/library/nginx`. */
export function normalizedName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** The normalized name with tag and digest: `nginx:1.27` → `docker.io/library/nginx:1.27`. */
export function normalizedString(ref: ImageReference): string {
  const tag = ref.tag === undefined ? '' : `:${ref.tag}`;
  const digest = ref.digest === undefined ? '' : `@${ref.digest}`;
  return `${normalizedName(ref)}${tag}${digest}`;
}

/** The shortest name docker would print: `docker.io/library/nginx` → `nginx`, `docker.io/a/b` → `a/b`. */
export function familiarName(ref: ImageReference): string {
  if (ref.registry !== DOCKER_HUB) return normalizedName(ref);
  const official = ref.repository.startsWith('library/') && ref.repository.indexOf('/', 'library/'.length) === -1;
  return official ? ref.repository.slice('library/'.length) : ref.repository;
}

/** The host to send registry API requests to: `registry-1.docker.io` for `docker.io`, else `registry` unchanged. */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry;
}

/** Whether `host` (no port) is one of Docker Hub's names: `docker.io`, `index.docker.io`, `registry-1.docker.io`. */
export function isDockerHubHost(host: string): boolean {
  return DOCKER_HUB_HOSTS.includes(host.toLowerCase());
}
