// What the admission core needs from its adapters: registry/ resolves, credentials/ matches, kube/ reads pull secrets.
// The core declares these ports; the adapters implement them, and only the entry points wire them together.
import type { ImageReference, Platform } from '../reference/index.ts';

/** The digest a tag resolved to. */
export interface ResolvedImage {
  /** `sha256:<hex>` of the manifest the tag names (the index digest for multi-arch images, unless a platform was asked for). */
  readonly digest: string;
  /** Media type of that manifest, parameters stripped. */
  readonly mediaType: string;
  /** Normalized registry host (`docker.io`, `127.0.0.1:5000`). */
  readonly registry: string;
  readonly repository: string;
  /** The tag looked up; the digest itself for a lookup by digest. */
  readonly tag: string;
  /** How the answer was obtained: from the registry, from cache, or by joining a lookup in flight. */
  readonly source: 'registry' | 'cache' | 'coalesced';
}

/** Per-lookup options. */
export interface LookupOptions {
  /** Absolute deadline in epoch milliseconds; the lookup fails with a timeout error past it. */
  readonly deadline: number;
  /** Credentials that this request may use (its pull secrets and the configured docker config). */
  readonly keyring?: Keyring;
  readonly signal?: AbortSignal;
  /**
   * Pin the manifest an index lists for this platform instead of the index itself (`--platform`).
   * @default undefined (the digest the tag names, the index for multi-platform images)
   */
  readonly platform?: Platform;
}

/** Resolves tags to digests. */
export interface Resolver {
  /**
   * Resolves `ref`'s tag (`latest` when it has none) to its digest. A reference with a digest and
   * no tag is looked up by that digest instead, which confirms the registry still holds the manifest
   * (`tagpin audit`). Rejects with a `RegistryError` naming the image, the registry and the cause
   * (`REGISTRY_NOT_FOUND` for a tag or digest the registry does not have).
   */
  resolve(ref: ImageReference, options: LookupOptions): Promise<ResolvedImage>;
  /**
   * The digest `ref` resolves to when it is already known to serve anyone (learned without
   * credentials and still fresh), without any I/O; undefined otherwise (then call `resolve`).
   */
  peek?(ref: ImageReference): ResolvedImage | undefined;
  /** Closes keep-alive pools. */
  close(): Promise<void>;
}

/** One set of credentials for a registry, as found in a docker config or pull secret. */
export interface Credential {
  readonly username?: string;
  readonly password?: string;
  /** docker `identitytoken`: exchanged for an access token at the token realm (refresh_token grant). */
  readonly identityToken?: string;
  /** Where it came from, for messages only (never the secret itself): "secret default/regcred". */
  readonly source: string;
  /** The config key it was listed under (`https://index.docker.io/v1/`, `127.0.0.1:5000`). */
  readonly key: string;
}

/** What a keyring lookup may spend: the lookup's deadline and its cancellation. */
export interface KeyringContext {
  /** Absolute deadline in epoch milliseconds; a credential helper or plugin still running then is abandoned. */
  readonly deadline: number;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Finds the credentials that apply to an image, most specific first (kubelet keyring rules).
 * Asynchronous because some credentials come from programs (docker credential helpers, kubelet
 * credential provider plugins); keyrings of static entries answer at once.
 */
export interface Keyring {
  /**
   * @param image normalized `registry/repository` (`docker.io/library/nginx`, `127.0.0.1:5000/demo/app`)
   * @returns every matching credential, most specific key first; empty when none match
   * @throws RegistryError (`REGISTRY_CREDENTIALS`, or `REGISTRY_TIMEOUT` past the deadline) when a
   *   program that must supply them fails; a program's "not found" answer means no credential
   */
  lookup(image: string, context: KeyringContext): Promise<readonly Credential[]>;
}

/** What the admission core needs to know about a pod to find its pull credentials. */
export interface PullCredentialRequest {
  readonly namespace: string;
  /** `spec.serviceAccountName` of the pod spec; `default` when absent. */
  readonly serviceAccountName: string | undefined;
  /** Names from `spec.imagePullSecrets[].name`. */
  readonly imagePullSecrets: readonly string[];
  /** Absolute deadline (epoch ms): answer by then, with whatever was read. */
  readonly deadline: number;
}

/** Pull credentials of a pod: its imagePullSecrets plus those of its service account. */
export interface PullCredentialSource {
  /** Never rejects: a missing secret, API error or timeout yields fewer credentials and a warning. */
  keyringFor(request: PullCredentialRequest): Promise<{ readonly keyring: Keyring; readonly warnings: readonly string[] }>;
}
