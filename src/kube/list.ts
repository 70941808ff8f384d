// Lists objects of one resource from the Kubernetes API, page by page (`limit` and `continue`), as outcomes that never throw.
import type { KubeConfig } from '@kubernetes/client-node';
import { createKubeGet } from './api.ts';
import type { KubeGet } from './api.ts';
import type { WorkloadLister } from '../inventory/index.ts';

/**
 * Objects per page: the API server's own recommendation for clients is a few hundred, which keeps each
 * answer to a few MiB even for Pods with long specs.
 */
export const LIST_PAGE_SIZE = 250;

/** A page of 250 large objects stays below this; a larger answer is no list page the API server sends. */
const MAX_PAGE_BYTES = 64 * 1024 * 1024;

/** Pages followed at most; with 250 objects a page, two and a half million objects. */
const MAX_PAGES = 10_000;

/** A lister over `kubeConfig`'s current context. @throws Error when the config has no current cluster */
export function createKubeLister(kubeConfig: KubeConfig): WorkloadLister {
  return listerOver(createKubeGet(kubeConfig));
}

function listerOver(get: KubeGet): WorkloadLister {
  return {
    async list(resource, namespace, visit, signal) {
      const base = resource.apiVersion.includes('/') ? `/apis/${resource.apiVersion}` : `/api/${resource.apiVersion}`;
      const where = namespace === undefined ? '' : `/namespaces/${encodeURIComponent(namespace)}`;
      let count = 0;
      let token: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const query = new URLSearchParams({ limit: String(LIST_PAGE_SIZE) });
        if (token !== undefined) query.set('continue', token);
        const outcome = await get<{ items?: unknown; metadata?: { continue?: unknown } }>(
          `${base}${where}/${encodeURIComponent(resource.plural)}?${query.toString()}`,
          signal,
          MAX_PAGE_BYTES,
        );
        if (outcome.status !== 'found') return outcome;
        const { items, metadata } = outcome.value;
        if (Array.isArray(items)) {
          for (const item of items) visit(item);
          count += items.length;
        }
        const next = metadata?.continue;
        if (typeof next !== 'string' || next === '') return { status: 'found', value: count };
        token = next;
      }
      return { status: 'failed', reason: `more than ${String(MAX_PAGES)} pages` };
    },
  };
}
