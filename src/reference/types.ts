// Shapes of a parsed image reference.

/** Output formats for a pinned image (config `mutate.output`). */
export const OutputFormat = { tagDigest: 'tag-digest', digest: 'digest' } as const;
export type OutputFormat = (typeof OutputFormat)[keyof typeof OutputFormat];

/** A parsed docker image reference. */
export interface ImageReference {
  /** Exactly what the user wrote; output is built from this, never from the normalized form. */
  readonly original: string;
  /** The name part as written, without tag and digest (`nginx`, `ghcr.io/a/b`). */
  readonly name: string;
  /** Normalized registry host with port: `docker.io`, `127.0.0.1:5000`, `[::1]:5000`. */
  readonly registry: string;
  /** Normalized repository path: `library/nginx`, `demo/app`. */
  readonly repository: string;
  /** The tag as written, when there is one. */
  readonly tag?: string;
  /** The digest as written (`sha256:<hex>`), when there is one. */
  readonly digest?: string;
}
