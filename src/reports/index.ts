// Background audits in the server: every audit.intervalSeconds the replica holding the Lease takes an inventory and writes PolicyReports, gauges and Events.
import type { Logger } from 'pino';
import { takeInventory } from '../inventory/index.ts';
import type { InventoryOptions, ImageState } from '../inventory/index.ts';
import { ImageState as States } from '../inventory/index.ts';
import { describeError } from '../errors/index.ts';
import { findings, policyReports, REPORT_NAME } from './build.ts';
import { pacedResolver } from './pace.ts';

export { findings, policyReports, REPORT_NAME, MAX_RESULTS, resultOf } from './build.ts';

/** What a scan needs besides the inventory's adapters: the Lease, the writes, the gauge. */
export interface BackgroundAuditOptions {
  /** The inventory's adapters, all namespaces (`namespace` undefined). */
  readonly inventory: Omit<InventoryOptions, 'signal'>;
  readonly intervalSeconds: number;
  readonly lookupsPerSecond: number;
  /** This replica's name, in the Lease and in Events. */
  readonly identity: string;
  readonly lease: {
    attempt(signal: AbortSignal): Promise<{ readonly held: true; readonly acquired: boolean } | { readonly held: false; readonly holder: string | undefined; readonly problem?: string }>;
    release(signal: AbortSignal): Promise<void>;
  };
  /** Creates or replaces `report` as `wgpolicyk8s.io/v1alpha2` PolicyReport `REPORT_NAME` in `namespace`. */
  writeReport(namespace: string, report: Record<string, unknown>, signal: AbortSignal): Promise<{ readonly ok: true } | { readonly ok: false; readonly problem: string }>;
  /** Posts one Event in its namespace. */
  postEvent(event: Record<string, unknown>, signal: AbortSignal): Promise<{ readonly ok: true } | { readonly ok: false; readonly problem: string }>;
  /** Sets `tagpin_cluster_images{state}`. */
  setGauge(counts: Readonly<Record<ImageState, number>>): void;
  readonly log: Logger;
}

/** A running schedule; `stop` ends it after the scan in progress is cancelled, and releases the Lease. */
export interface BackgroundAudit {
  stop(): Promise<void>;
}

/**
 * Starts the schedule: a first attempt at once, then one every `intervalSeconds`. A replica that does
 * not hold the Lease only tries again at the next interval; the holder renews it before each scan,
 * for twice the interval, so a holder that stops is replaced within two intervals (at once when it
 * stopped cleanly and released the Lease).
 */
export function startBackgroundAudit(options: BackgroundAuditOptions): BackgroundAudit {
  const { log } = options;
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  /** What the last scan reported as an Event, so a finding is announced once, not every interval. */
  let announced = new Set<string>();

  const tick = async (): Promise<void> => {
    const lease = await options.lease.attempt(abort.signal);
    if (!lease.held) {
      if (lease.problem !== undefined) log.warn({ lease: lease.problem }, 'background audit: no scan, the Lease could not be taken');
      else log.info({ holder: lease.holder }, 'background audit: another replica holds the Lease; not scanning');
      return;
    }
    if (lease.acquired) log.info({ identity: options.identity }, 'background audit: took the Lease');
    const startedAt = Date.now();
    log.info('background audit: scan started');
    const resolver = pacedResolver(options.inventory.resolver, options.lookupsPerSecond, abort.signal);
    const inventory = await takeInventory({ ...options.inventory, resolver, namespace: undefined, signal: abort.signal });
    log.info({ listed: inventory.listed, workloads: inventory.workloads, images: inventory.images.length, lookups: resolver.started() }, 'background audit: lookups done');
    for (const warning of inventory.warnings) log.warn({ warning }, 'background audit: warning');

    const counts = Object.fromEntries(Object.values(States).map((state) => [state, 0])) as Record<ImageState, number>;
    for (const image of inventory.images) counts[image.state]++;
    options.setGauge(counts);

    const now = Date.now();
    let written = 0;
    for (const [namespace, report] of policyReports(inventory.images, now)) {
      const outcome = await options.writeReport(namespace, report, abort.signal);
      if (outcome.ok) written++;
      else log.warn({ namespace, report: REPORT_NAME, problem: outcome.problem }, 'background audit: PolicyReport not written');
    }
    const found = findings(inventory.images, options.identity, now);
    let events = 0;
    for (const finding of found) {
      if (announced.has(finding.key)) continue;
      const outcome = await options.postEvent(finding.event, abort.signal);
      if (outcome.ok) events++;
      else log.warn({ problem: outcome.problem }, 'background audit: Event not posted');
    }
    announced = new Set(found.map((f) => f.key));
    log.info({ ...counts, reports: written, events, durationMs: Date.now() - startedAt }, 'background audit: scan finished');
  };

  const schedule = (delayMs: number): void => {
    timer = setTimeout(() => {
      running = tick()
        .catch((error: unknown) => {
          if (!abort.signal.aborted) log.error({ error: describeError(error) }, 'background audit: scan failed');
        })
        .finally(() => {
          if (!abort.signal.aborted) schedule(options.intervalSeconds * 1000);
        });
    }, delayMs);
    timer.unref();
  };
  schedule(0);
  log.info({ intervalSeconds: options.intervalSeconds, lookupsPerSecond: options.lookupsPerSecond, identity: options.identity }, 'background audit: scheduled');

  return {
    async stop() {
      if (timer !== undefined) clearTimeout(timer);
      abort.abort();
      await running;
      // A fresh signal: the one above is spent, and the release is worth a short wait.
      await options.lease.release(AbortSignal.timeout(2000)).catch(() => undefined);
    },
  };
}
