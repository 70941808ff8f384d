// What the inventory needs from its adapters: kube/ lists workloads; registry/ and kube/ serve the admission ports.

/** Where a kind is served: `v1` + `pods`, `apps/v1` + `deployments`, or a configured custom resource. */
export interface WorkloadResource {
  /** The kind whose image fields `imagesOf` knows, e.g. `Deployment`. */
  readonly kind: string;
  /** `v1` for the core group, else `GROUP/VERSION`. */
  readonly apiVersion: string;
  /** The resource's plural name in URLs, e.g. `deployments`. */
  readonly plural: string;
}

/** How listing one resource ended: the objects visited, or why it could not be read. */
export type ListOutcome =
  | { readonly status: 'found'; readonly value: number }
  | { readonly status: 'not-found' }
  | { readonly status: 'forbidden' }
  | { readonly status: 'failed'; readonly reason: string }
  | { readonly status: 'timeout' };

/** Lists a resource; `visit` sees each object of each page, so no page is kept after it is read. */
export interface WorkloadLister {
  /** Every object of `resource` in `namespace`, or in every namespace when it is undefined. Never rejects. */
  list(resource: WorkloadResource, namespace: string | undefined, visit: (object: unknown) => void, signal: AbortSignal): Promise<ListOutcome>;
}
