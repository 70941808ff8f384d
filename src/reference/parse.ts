// parseReference: the docker reference grammar with docker.io normalization (ParseNormalizedNamed).
import { InvalidReferenceError } from '../errors/index.ts';
import { digestProblem } from './digest.ts';
import {
  REFERENCE_MAX_LENGTH,
  REPOSITORY_MAX_LENGTH,
  TAG_MAX_LENGTH,
  domainAndPortRegexp,
  identifierRegexp,
  pathComponentRegexp,
  tagRegexp,
} from './grammar.ts';
import type { ImageReference } from './types.ts';

/** Docker Hub's registry as references name it. */
export const DOCKER_HUB = 'docker.io';
/** Docker Hub's legacy index name, which the grammar folds into `docker.io` (the API host `registry-1.docker.io` it does not). */
export const LEGACY_DOCKER_HUB = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';

/** Longest piece of user input quoted back in a message, so one bad string cannot flood a log line. */
const QUOTE_MAX = 256;

/** `text` as a JSON string literal, shortened: escapes keep the message on one line. */
export function quote(text: string): string {
  return JSON.stringify(text.length > QUOTE_MAX ? `${text.slice(0, QUOTE_MAX)}…` : text);
}

function invalid(image: string, rule: string): InvalidReferenceError {
  const shown = image.length > REFERENCE_MAX_LENGTH ? image.slice(0, QUOTE_MAX) : image;
  return new InvalidReferenceError(`invalid image reference ${quote(image)}: ${rule}`, { image: shown });
}

/**
 * Splits a name (no tag, no digest) into registry and path the way docker does: the first
 * component is a registry only when it is `localhost`, has a `.` or `:`, or has uppercase letters.
 */
function splitDomain(name: string): { readonly registry: string; readonly path: string; readonly explicit: boolean } {
  const slash = name.indexOf('/');
  let registry = DOCKER_HUB;
  let path = name;
  let explicit = false;
  if (slash !== -1) {
    const first = name.slice(0, slash);
    const rest = name.slice(slash + 1);
    if (first === LEGACY_DOCKER_HUB) {
      path = rest;
    } else if (first === 'localhost' || first.includes('.') || first.includes(':') || first.toLowerCase() !== first) {
      registry = first;
      path = rest;
      explicit = true;
    }
  }
  if (registry === DOCKER_HUB && !path.includes('/')) path = OFFICIAL_REPO_PREFIX + path;
  return { registry, path, explicit };
}

function pathProblem(path: string): string | undefined {
  if (path.toLowerCase() !== path) return 'repository name must be lowercase';
  for (const component of path.split('/')) {
    if (component === '') return 'repository path has an empty component (leading, trailing or double "/")';
    if (!pathComponentRegexp.test(component)) {
      return `repository path component ${quote(component)} is invalid: use lowercase letters and digits, separated by ".", "_", "__" or "-"`;
    }
  }
  if (path.length > REPOSITORY_MAX_LENGTH) {
    return `repository path is longer than ${String(REPOSITORY_MAX_LENGTH)} characters`;
  }
  return undefined;
}

function tagProblem(tag: string): string | undefined {
  if (tag === '') return 'tag after ":" is empty';
  if (tag.length > TAG_MAX_LENGTH) return `tag is longer than ${String(TAG_MAX_LENGTH)} characters`;
  if (!tagRegexp.test(tag)) {
    return `tag ${quote(tag)} is invalid: use letters, digits, "_", "." and "-", not starting with "." or "-"`;
  }
  return undefined;
}

/** Parsed references by image string: the same few hundred images are parsed in admission after admission. */
const parsed = new Map<string, ImageReference>();
// Enough for the images a cluster runs; each entry holds about 300 bytes of heap, so a long tail of
// distinct tags (bench:memory's 10,000) would otherwise keep 3 MiB that are parsed again in microseconds.
const PARSED_MAX = 1_000;

/**
 * Parses an image string per the docker reference grammar and normalizes registry and repository.
 * Results are remembered (at most PARSED_MAX, oldest out first); they are frozen, so sharing is safe.
 * @throws InvalidReferenceError with a message naming the image and the rule it breaks
 */
export function parseReference(image: string): ImageReference {
  const known = typeof image === 'string' ? parsed.get(image) : undefined;
  if (known !== undefined) return known;
  const ref = Object.freeze(parseAnew(image));
  if (parsed.size >= PARSED_MAX) parsed.delete(parsed.keys().next().value as string);
  parsed.set(image, ref);
  return ref;
}

function parseAnew(image: string): ImageReference {
  // Callers hand over values from untyped JSON; anything but a string is bad input, not a crash.
  if (typeof image !== 'string') {
    throw new InvalidReferenceError(`invalid image reference: expected a string, got ${image === null ? 'null' : typeof image}`);
  }
  if (image === '') throw invalid(image, 'must not be empty');
  if (image.length > REFERENCE_MAX_LENGTH) {
    throw invalid(image, `longer than ${String(REFERENCE_MAX_LENGTH)} characters`);
  }
  if (identifierRegexp.test(image)) {
    throw invalid(image, 'a bare 64-character hex string is an image ID, not a repository name');
  }

  // No part of the grammar before the digest may contain `@`, and a digest never does.
  let rest = image;
  let digest: string | undefined;
  const at = image.indexOf('@');
  if (at !== -1) {
    rest = image.slice(0, at);
    digest = image.slice(at + 1);
    if (digest.includes('@')) throw invalid(image, 'contains more than one "@"');
    const problem = digestProblem(digest);
    if (problem !== undefined) throw invalid(image, problem);
  }

  // A `:` after the last `/` starts the tag; one before it is a registry port (`registry:5000/app`).
  let name = rest;
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    name = rest.slice(0, colon);
    tag = rest.slice(colon + 1);
    const problem = tagProblem(tag);
    if (problem !== undefined) throw invalid(image, problem);
  }
  if (name === '') throw invalid(image, 'repository name is empty');

  const { registry, path, explicit } = splitDomain(name);
  if (explicit && !domainAndPortRegexp.test(registry)) {
    throw invalid(image, `registry host ${quote(registry)} is invalid: use a host name or [IPv6] address with an optional :port`);
  }
  const problem = pathProblem(path);
  if (problem !== undefined) throw invalid(image, problem);

  return {
    original: image,
    name,
    registry,
    repository: path,
    ...(tag === undefined ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
  };
}
