// Typed errors shared by every layer: a stable code, structured fields, and the cause.

/** Fields that any tagpin error may carry so a boundary can report them without parsing text. */
export interface ErrorFields {
  /** The image as the user wrote it. */
  readonly image?: string;
  /** The registry host (normalized, e.g. `docker.io`, `127.0.0.1:5000`). */
  readonly registry?: string;
  /** HTTP status the registry or token server answered with, when one did. */
  readonly status?: number;
  /** Where in the user's input the problem is (file:line, config key path, JSON Pointer). */
  readonly where?: string;
  readonly cause?: unknown;
}

/** Base of every error tagpin raises on purpose; anything else is a bug. */
export class TagpinError extends Error {
  readonly code: string;
  readonly image: string | undefined;
  readonly registry: string | undefined;
  readonly status: number | undefined;
  readonly where: string | undefined;

  constructor(code: string, message: string, fields: ErrorFields = {}) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = new.target.name;
    this.code = code;
    this.image = fields.image;
    this.registry = fields.registry;
    this.status = fields.status;
    this.where = fields.where;
  }
}

/** A reference string that the docker reference grammar rejects. */
export class InvalidReferenceError extends TagpinError {
  constructor(message: string, fields: ErrorFields = {}) {
    super('INVALID_REFERENCE', message, fields);
  }
}

/** The configuration file, or a command-line flag, is invalid. */
export class ConfigError extends TagpinError {
  constructor(message: string, fields: ErrorFields = {}) {
    super('CONFIG_INVALID', message, fields);
  }
}

/** Input the user gave (manifest file, AdmissionReview) cannot be read. */
export class InputError extends TagpinError {
  constructor(message: string, fields: ErrorFields = {}) {
    super('INPUT_INVALID', message, fields);
  }
}

/** Stable codes of registry lookup failures. */
export const RegistryErrorCode = {
  notFound: 'REGISTRY_NOT_FOUND',
  unauthorized: 'REGISTRY_UNAUTHORIZED',
  denied: 'REGISTRY_DENIED',
  rateLimited: 'REGISTRY_RATE_LIMITED',
  unavailable: 'REGISTRY_UNAVAILABLE',
  badResponse: 'REGISTRY_BAD_RESPONSE',
  digestMismatch: 'REGISTRY_DIGEST_MISMATCH',
  unsupportedManifest: 'REGISTRY_UNSUPPORTED_MANIFEST',
  tooLarge: 'REGISTRY_MANIFEST_TOO_LARGE',
  timeout: 'REGISTRY_TIMEOUT',
  network: 'REGISTRY_NETWORK',
  tls: 'REGISTRY_TLS',
  notARegistry: 'REGISTRY_NOT_A_REGISTRY',
  forbiddenAddress: 'REGISTRY_FORBIDDEN_ADDRESS',
  plainHttpRefused: 'REGISTRY_PLAIN_HTTP_REFUSED',
  notAllowed: 'REGISTRY_NOT_ALLOWED',
  redirect: 'REGISTRY_REDIRECT',
  token: 'REGISTRY_TOKEN',
  /** A docker credential helper or kubelet credential provider plugin failed to answer. */
  credentials: 'REGISTRY_CREDENTIALS',
  /** `--platform` names a platform the image's index has no manifest for. */
  noPlatform: 'REGISTRY_NO_PLATFORM',
} as const;
export type RegistryErrorCode = (typeof RegistryErrorCode)[keyof typeof RegistryErrorCode];

/** A lookup against a registry or its token server failed; the message is for the user. */
export class RegistryError extends TagpinError {
  declare readonly code: RegistryErrorCode;
  /** Seconds the registry asked us to wait (429 Retry-After), when it said. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: RegistryErrorCode,
    message: string,
    fields: ErrorFields & { readonly retryAfterSeconds?: number } = {},
  ) {
    super(code, message, fields);
    this.retryAfterSeconds = fields.retryAfterSeconds;
  }

  /**
   * The same failure about `image` as its caller wrote it: a remembered or coalesced lookup may
   * have started for another spelling of the same reference.
   */
  forImage(image: string, registry: string): RegistryError {
    if (this.image === image) return this;
    return new RegistryError(this.code, this.message, {
      image,
      registry: this.registry ?? registry,
      ...(this.status === undefined ? {} : { status: this.status }),
      ...(this.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: this.retryAfterSeconds }),
      cause: this.cause ?? this,
    });
  }
}

/** One line for a person: the message, plus the cause's message when it adds something. */
export function describeError(err: unknown): string {
  if (err instanceof TagpinError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
