// PolicyReports and Events from an inventory (pure): one report per namespace, one Event per newly drifted or missing image.
import type { ImageState, InventoryImage } from '../inventory/index.ts';

/** The name of each namespace's report, and the `policy` of its results. */
export const REPORT_NAME = 'tagpin-images';
/** Results per report at most: etcd stores objects up to 1.5 MiB; failures are kept first. */
export const MAX_RESULTS = 1000;

type Result = 'pass' | 'fail' | 'warn' | 'error' | 'skip';

const RESULT_OF: Readonly<Record<ImageState, Result>> = {
  pinned: 'pass',
  drifted: 'fail',
  unpinned: 'fail',
  violation: 'fail',
  missing: 'fail',
  failed: 'error',
};
const ORDER: readonly Result[] = ['fail', 'error', 'warn', 'skip', 'pass'];

/** Images that get an Event when a scan first finds them in this state. */
const EVENT_REASONS: Partial<Readonly<Record<ImageState, string>>> = { drifted: 'ImageDrifted', missing: 'ImageMissing' };

/** The `result` of an image: its state's, or `skip` when it is excluded. */
export function resultOf(image: InventoryImage): Result {
  return image.excluded === null ? RESULT_OF[image.state] : 'skip';
}

/** One `wgpolicyk8s.io/v1alpha2` PolicyReport per namespace that has images, keyed by namespace. */
export function policyReports(images: readonly InventoryImage[], now: number): ReadonlyMap<string, Record<string, unknown>> {
  const byNamespace = new Map<string, InventoryImage[]>();
  for (const image of images) {
    const list = byNamespace.get(image.namespace) ?? [];
    list.push(image);
    byNamespace.set(image.namespace, list);
  }
  const timestamp = { seconds: Math.floor(now / 1000), nanos: 0 };
  const reports = new Map<string, Record<string, unknown>>();
  for (const [namespace, list] of byNamespace) {
    const summary: Record<Result, number> = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
    for (const image of list) summary[resultOf(image)]++;
    const results = [...list]
      .sort((a, b) => ORDER.indexOf(resultOf(a)) - ORDER.indexOf(resultOf(b)))
      .slice(0, MAX_RESULTS)
      .map((image) => ({
        policy: REPORT_NAME,
        rule: image.state,
        result: resultOf(image),
        message: `${image.path} ${image.image ?? '(not a string)'}: ${image.state}${image.reason === null ? '' : ` (${image.reason})`}`,
        source: 'tagpin',
        scored: true,
        timestamp,
        resources: [{ apiVersion: image.apiVersion, kind: image.kind, name: image.name, namespace, uid: image.uid }],
        properties: {
          path: image.path,
          image: image.image ?? '',
          ...(image.digest === null ? {} : { digest: image.digest }),
          ...(image.tagDigest === null ? {} : { tagDigest: image.tagDigest }),
          ...(image.excluded === null ? {} : { excluded: image.excluded }),
        },
      }));
    reports.set(namespace, {
      apiVersion: 'wgpolicyk8s.io/v1alpha2',
      kind: 'PolicyReport',
      metadata: { name: REPORT_NAME, namespace, labels: { 'app.kubernetes.io/managed-by': 'tagpin' } },
      summary,
      results,
    });
  }
  return reports;
}

/** An image that needs an Event, and the key that tells it from the same finding in the last scan. */
export interface Finding {
  readonly key: string;
  readonly event: Record<string, unknown>;
}

/** Events for the drifted and missing images of a scan; `identity` names the reporting replica. */
export function findings(images: readonly InventoryImage[], identity: string, now: number): readonly Finding[] {
  const time = new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const found: Finding[] = [];
  for (const image of images) {
    const reason = EVENT_REASONS[image.state];
    if (reason === undefined || image.excluded !== null) continue;
    found.push({
      key: `${image.uid} ${image.path} ${image.state} ${image.digest ?? ''} ${image.tagDigest ?? ''}`,
      event: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${image.name}.`, namespace: image.namespace },
        involvedObject: { apiVersion: image.apiVersion, kind: image.kind, name: image.name, namespace: image.namespace, uid: image.uid },
        reason,
        // Events are shown in one line by kubectl; the message says which field and why.
        message: `${image.path} ${image.image ?? ''}: ${image.reason ?? image.state}`.slice(0, 1024),
        type: 'Warning',
        source: { component: 'tagpin' },
        reportingComponent: 'tagpin',
        reportingInstance: identity,
        firstTimestamp: time,
        lastTimestamp: time,
        count: 1,
      },
    });
  }
  return found;
}
