// Docker image reference grammar: parse, normalize and format image strings (pure).
export type { ImageReference, OutputFormat } from './types.ts';
export { OutputFormat as OutputFormats } from './types.ts';
export { DOCKER_HUB, parseReference } from './parse.ts';
export { DOCKER_HUB_HOSTS, familiarName, formatPinned, isDockerHubHost, normalizedName, normalizedString, registryApiHost } from './format.ts';
export { splitHostPort, stripBrackets } from './host.ts';
export type { HostPort } from './host.ts';
export { DIGEST_HEX_LENGTHS, digestProblem, isValidDigest } from './digest.ts';
export { REFERENCE_MAX_LENGTH, REPOSITORY_MAX_LENGTH, TAG_MAX_LENGTH } from './grammar.ts';
export { formatPlatform, normalizePlatform, parsePlatform } from './platform.ts';
export type { Platform } from './platform.ts';
