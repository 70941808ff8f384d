// Interfaces the admission core needs from its adapters.
import type { Keyring } from '../credentials/types.ts';

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
