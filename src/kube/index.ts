// The Kubernetes API: pull credentials (a pod's imagePullSecrets and its service account's, read with GET and cached briefly) and paged lists of workloads.
export { createKubeCredentialSource } from './source.ts';
export { contextNamespace, loadKubeConfig } from './config.ts';
export { createKubeLister, LIST_PAGE_SIZE } from './list.ts';
export { BUILTIN_RESOURCES } from './resources.ts';
export type { KubeCredentialSourceOptions, KubeObjectKind, KubeObserver, KubeReadResult, ReadOutcome } from './types.ts';
