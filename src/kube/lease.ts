// Elects one replica with a coordination.k8s.io/v1 Lease: held by whoever renewed it last, until it expires.
import type { KubeRequest } from './api.ts';

/** Who holds the Lease, as the API server stores it. */
interface LeaseObject {
  metadata?: { resourceVersion?: string };
  spec?: { holderIdentity?: string | null; leaseDurationSeconds?: number; renewTime?: string | null; acquireTime?: string | null; leaseTransitions?: number };
}

/** What one attempt found. */
export type LeaseOutcome =
  | { readonly held: true; readonly acquired: boolean }
  | { readonly held: false; readonly holder: string | undefined; readonly problem?: string };

/** Options of `createLeaseElector`. */
export interface LeaseOptions {
  readonly request: KubeRequest;
  readonly namespace: string;
  readonly name: string;
  /** This replica's name in `holderIdentity` (its Pod name, or host name and PID). */
  readonly identity: string;
  /** How long a renewal holds: longer than the time between two attempts of the holder. */
  readonly durationSeconds: number;
  readonly now?: () => number;
}

/** Tries to take or renew the Lease; `release` gives it up at shutdown so another replica need not wait it out. */
export interface LeaseElector {
  attempt(signal: AbortSignal): Promise<LeaseOutcome>;
  release(signal: AbortSignal): Promise<void>;
}

/**
 * A Lease elector. The holder renews at every attempt; another replica takes the Lease only once
 * `renewTime + leaseDurationSeconds` has passed. Writes carry the `resourceVersion` read, so of two
 * replicas racing for an expired Lease the API server lets one win (409 Conflict for the other).
 */
export function createLeaseElector(options: LeaseOptions): LeaseElector {
  const { request, namespace, name, identity, durationSeconds } = options;
  const now = options.now ?? Date.now;
  const collection = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  const path = `${collection}/${encodeURIComponent(name)}`;
  const spec = (acquireTime: string, transitions: number) => ({
    holderIdentity: identity,
    leaseDurationSeconds: durationSeconds,
    acquireTime,
    renewTime: microTime(now()),
    leaseTransitions: transitions,
  });
  return {
    async attempt(signal) {
      const current = await request('GET', path, signal);
      if (current.status === 404) {
        const created = await request('POST', collection, signal, {
          body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: spec(microTime(now()), 0) },
        });
        if (created.status === 201) return { held: true, acquired: true };
        return created.status === 409 ? { held: false, holder: undefined } : { held: false, holder: undefined, problem: describe('create', created.status) };
      }
      if (current.status !== 200 || !('body' in current)) return { held: false, holder: undefined, problem: describe('read', current.status) };
      const lease = (current.body ?? {}) as LeaseObject;
      const holder = lease.spec?.holderIdentity ?? undefined;
      const mine = holder === identity;
      if (!mine && holder !== undefined && holder !== '' && !expired(lease, now())) return { held: false, holder };
      const acquireTime = mine ? (lease.spec?.acquireTime ?? microTime(now())) : microTime(now());
      const transitions = (lease.spec?.leaseTransitions ?? 0) + (mine ? 0 : 1);
      const updated = await request('PUT', path, signal, {
        body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace, resourceVersion: lease.metadata?.resourceVersion }, spec: spec(acquireTime, transitions) },
      });
      if (updated.status === 200) return { held: true, acquired: !mine };
      return updated.status === 409 ? { held: false, holder } : { held: false, holder, problem: describe('renew', updated.status) };
    },
    async release(signal) {
      const current = await request('GET', path, signal);
      if (current.status !== 200 || !('body' in current)) return;
      const lease = (current.body ?? {}) as LeaseObject;
      if (lease.spec?.holderIdentity !== identity) return;
      await request('PUT', path, signal, {
        body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace, resourceVersion: lease.metadata?.resourceVersion }, spec: { ...lease.spec, holderIdentity: null, renewTime: null } },
      });
    },
  };
}

function expired(lease: LeaseObject, now: number): boolean {
  const renewed = Date.parse(lease.spec?.renewTime ?? '');
  const duration = lease.spec?.leaseDurationSeconds ?? 0;
  return !Number.isFinite(renewed) || renewed + duration * 1000 < now;
}

/** metav1.MicroTime: RFC 3339 with six fractional digits. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function describe(what: string, status: number | string): string {
  return `cannot ${what} the Lease (${typeof status === 'number' ? `HTTP ${String(status)}${status === 403 ? ': tagpin needs get, create and update on leases.coordination.k8s.io' : ''}` : `Kubernetes API: ${status}`})`;
}
