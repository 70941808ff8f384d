// The Kubernetes API: pull credentials (a pod's imagePullSecrets and its service account's, read with GET and cached briefly), paged lists of workloads, and the Lease, PolicyReports and Events of background audits.
export { createKubeCredentialSource } from './source.ts';
export { contextNamespace, loadKubeConfig } from './config.ts';
export { createKubeLister, LIST_PAGE_SIZE } from './list.ts';
export { BUILTIN_RESOURCES, workloadResources } from './resources.ts';
export type { KubeCredentialSourceOptions, KubeObjectKind, KubeObserver, KubeReadResult, ReadOutcome } from './types.ts';
export { createKubeRequest } from './api.ts';
export type { KubeAnswer, KubeRequest } from './api.ts';
export { createLeaseElector } from './lease.ts';
export type { LeaseElector, LeaseOptions, LeaseOutcome } from './lease.ts';
export { postObject, putObject } from './writes.ts';
export type { WriteOutcome } from './writes.ts';
