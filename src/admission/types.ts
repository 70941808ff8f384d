// What the admission core is given by the process around it, and the events it reports.
import type { Config } from '../config/index.ts';
import type { Keyring, PullCredentialSource, Resolver } from './ports.ts';

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
