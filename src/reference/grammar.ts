// The docker reference grammar as regular expressions, kept textually identical to distribution/reference regexp.go.

// Each piece is matched on its own, anchored, after the input has been split at `@`, `:` and `/`:
// the pieces are unambiguous, so no pattern can backtrack catastrophically.
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const optionalPort = '(?::[0-9]+)?';
const tag = '[\\w][\\w.-]{0,127}';
const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const identifier = '([a-f0-9]{64})';
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = `${host}${optionalPort}`;
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;

/** A registry host with optional port: `docker.io`, `localhost:5000`, `[::1]:5000`. */
export const domainAndPortRegexp = new RegExp(`^${domainAndPort}$`);
/** One `/`-separated component of a repository path. */
export const pathComponentRegexp = new RegExp(`^${pathComponent}$`);
/** A tag (at most 128 characters). */
export const tagRegexp = new RegExp(`^${tag}$`);
/** The general digest form `algorithm:hex`; algorithm-specific rules are in `digest.ts`. */
export const digestRegexp = new RegExp(`^${digestPat}$`);
/** A bare image ID, which docker refuses to read as a repository name. */
export const identifierRegexp = new RegExp(`^${identifier}$`);

/** Longest tag the grammar allows. */
export const TAG_MAX_LENGTH = 128;
/** `RepositoryNameTotalLengthMax` of distribution/reference, applied to the normalized path. */
export const REPOSITORY_MAX_LENGTH = 255;
/** Inputs longer than this are rejected before any pattern runs. */
export const REFERENCE_MAX_LENGTH = 4096;
