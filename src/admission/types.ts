// Interfaces the admission core needs from its adapters.
import type { Config } from '../config/types.ts';
import type { Keyring } from '../credentials/types.ts';
import type { Resolver } from '../registry/types.ts';

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

/** Events of the admission core that metrics count; every member optional. */
export interface AdmissionObserver {
  /** One image whose lookup failed (registry host, RegistryError code or `REGISTRY_TIMEOUT`). */
  onResolveError?(event: { readonly registry: string; readonly code: string }): void;
  /** One warning from the pull-credential source. */
  onCredentialWarning?(warning: string): void;
}

/** What the admission core needs from the process around it. */
export interface AdmissionDeps {
  readonly config: Config;
  readonly resolver: Resolver;
  /** Credentials from `registries.dockerConfig`; `emptyKeyring` when none are configured. */
  readonly keyring: Keyring;
  /** Pull secrets of the pod; absent when tagpin runs without access to a cluster. */
  readonly credentials?: PullCredentialSource;
  readonly observer?: AdmissionObserver;
  /** Epoch milliseconds; injectable for tests. @default Date.now */
  readonly now?: () => number;
}
