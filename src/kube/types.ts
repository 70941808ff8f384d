// Shapes of the Kubernetes pull-credential source's options, observer events and read outcomes.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Keyring } from '../credentials/index.ts';

/** The two kinds of object the source reads. */
export type KubeObjectKind = 'secret' | 'serviceaccount';

/** How one read of the Kubernetes API ended. */
export type KubeReadResult = 'found' | 'not-found' | 'forbidden' | 'error' | 'timeout';

/** Events the source reports so metrics can count them without the source knowing prom-client. */
export interface KubeObserver {
  /** One GET against the Kubernetes API (cache hits and coalesced waits are not reads). */
  onRead?(event: { readonly kind: KubeObjectKind; readonly result: KubeReadResult }): void;
  /** How a request for one object was served: from cache, by a new read, or by joining a read in flight. */
  onCache?(result: 'hit' | 'miss' | 'coalesced'): void;
}

/** Options of `createKubeCredentialSource`. */
export interface KubeCredentialSourceOptions {
  /** Where the API server is and how to authenticate to it. @default loadKubeConfig() */
  readonly kubeConfig?: KubeConfig;
  /** How long an object read from the API, or its absence, is reused. @default 30000 */
  readonly cacheTtlMs?: number;
  /** Receives read and cache events. @default none */
  readonly observer?: KubeObserver;
}

/** What a read of one object produced; `failed` and `timeout` are never cached. */
export type ReadOutcome<T> =
  | { readonly status: 'found'; readonly value: T }
  | { readonly status: 'not-found' }
  | { readonly status: 'forbidden' }
  | { readonly status: 'failed'; readonly reason: string }
  | { readonly status: 'timeout' };

/** A pull secret turned into credentials, or the reason it cannot be used (never its contents). */
export type SecretContent =
  | { readonly usable: true; readonly keyring: Keyring }
  | { readonly usable: false; readonly problem: string };
