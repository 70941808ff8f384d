// Pull credentials from the cluster: a pod's imagePullSecrets and its service account's, read with GET and cached briefly.
export { createKubeCredentialSource } from './source.ts';
export { loadKubeConfig } from './config.ts';
export type { KubeCredentialSourceOptions, KubeObjectKind, KubeObserver, KubeReadResult } from './types.ts';
