// Prometheus metrics of the webhook on a private prom-client registry, names prefixed `tagpin_`.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RegistryObserver } from '../registry/index.ts';
import type { Decision, Webhook } from '../audit/index.ts';

/** Counters and histograms the server updates, plus the registry they are exposed from. */
export interface Metrics {
  /** The private registry; serve it at GET /metrics. */
  readonly registry: Registry;
  /**
   * Feeds `tagpin_registry_requests_total`, `tagpin_registry_retries_total`, `tagpin_registry_mirror_fallbacks_total`
   * and `tagpin_resolve_cache_total`; pass to the registry client.
   */
  readonly registryObserver: RegistryObserver;
  /** One admission answered with an AdmissionReview. */
  observeAdmission(webhook: Webhook, decision: Decision, durationSeconds: number): void;
  /** One request answered with an HTTP error instead of a review (malformed body, wrong type, too large). */
  observeRejectedRequest(webhook: Webhook, status: number): void;
  /** One image whose lookup failed; `code` is the RegistryError code. */
  observeResolveError(registry: string, code: string): void;
  /** One warning from reading pull credentials (missing secret, API error). */
  observeCredentialWarning(): void;
  /** One GET against the Kubernetes API for a pull secret or service account. */
  observeKubeRead(kind: string, result: string): void;
  /** Images of the last background audit by state (`tagpin_cluster_images`). */
  setClusterImages(counts: Readonly<Record<string, number>>): void;
}

/**
 * Distinct `registry` label values per process. Any user who may create a Pod names registries, so the
 * label must be bounded: the first 50 hosts seen keep their name, later ones are counted as `other`.
 */
export const MAX_REGISTRY_LABELS = 50;

/** The value of a bounded label: `value` while fewer than `max` distinct values were seen, else `other`. */
function boundedLabel(max: number): (value: string) => string {
  const seen = new Set<string>();
  return (value) => {
    if (seen.has(value)) return value;
    if (seen.size >= max) return 'other';
    seen.add(value);
    return value;
  };
}

/** Creates the metrics on a fresh registry, with Node's process metrics under the same prefix. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  // One bound for every metric with a `registry` label, so each holds the same names.
  const registryLabel = boundedLabel(MAX_REGISTRY_LABELS);
  collectDefaultMetrics({ register: registry, prefix: 'tagpin_' });

  const admissions = new Counter({
    name: 'tagpin_admission_requests_total',
    help: 'Admission reviews answered, by webhook and decision.',
    labelNames: ['webhook', 'decision'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'tagpin_admission_duration_seconds',
    help: 'Time from receiving an admission review to answering it.',
    labelNames: ['webhook'] as const,
    // Up to the API server's 30 s cap on webhook timeouts.
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'tagpin_admission_rejected_requests_total',
    help: 'Requests to a webhook answered with an HTTP error (malformed, wrong content type, too large).',
    labelNames: ['webhook', 'status'] as const,
    registers: [registry],
  });
  const registryRequests = new Counter({
    name: 'tagpin_registry_requests_total',
    help: 'HTTP exchanges with registries and token servers; status 0 when no response arrived.',
    labelNames: ['registry', 'method', 'status'] as const,
    registers: [registry],
  });
  const retries = new Counter({
    name: 'tagpin_registry_retries_total',
    help: 'Registry and token requests tried again after a retryable failure; status 0 when no response arrived.',
    labelNames: ['registry', 'method', 'status'] as const,
    registers: [registry],
  });
  const mirrorFallbacks = new Counter({
    name: 'tagpin_registry_mirror_fallbacks_total',
    help: 'Lookups that moved past a mirror of the registry to the next mirror or the registry itself, by reason.',
    labelNames: ['registry', 'reason'] as const,
    registers: [registry],
  });
  const cache = new Counter({
    name: 'tagpin_resolve_cache_total',
    help: 'Digest lookups by cache result: hit, miss, coalesced with a lookup in flight, or negative (a recent outage failure answered again).',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const resolveErrors = new Counter({
    name: 'tagpin_resolve_errors_total',
    help: 'Images whose digest lookup failed, by registry and error code.',
    labelNames: ['registry', 'code'] as const,
    registers: [registry],
  });
  const credentialWarnings = new Counter({
    name: 'tagpin_pull_credential_warnings_total',
    help: 'Problems reading pull secrets or service accounts (the lookup went on without them).',
    registers: [registry],
  });

  const kubeReads = new Counter({
    name: 'tagpin_kube_reads_total',
    help: 'GETs of Secrets and ServiceAccounts against the Kubernetes API, by kind and result.',
    labelNames: ['kind', 'result'] as const,
    registers: [registry],
  });

  // Labelled by state only: six values, whatever the cluster holds.
  const clusterImages = new Gauge({
    name: 'tagpin_cluster_images',
    help: 'Image fields of the workloads in the cluster at the last background audit, by state.',
    labelNames: ['state'] as const,
    registers: [registry],
  });

  return {
    registry,
    registryObserver: {
      onRequest: (event): void => {
        registryRequests.inc({ registry: registryLabel(event.registry), method: event.method, status: String(event.status) });
      },
      onRetry: (event): void => {
        retries.inc({ registry: registryLabel(event.registry), method: event.method, status: String(event.status) });
      },
      onMirrorFallback: (event): void => {
        mirrorFallbacks.inc({ registry: registryLabel(event.registry), reason: event.reason });
      },
      onCache: (result): void => {
        cache.inc({ result });
      },
    },
    observeAdmission(webhook, decision, durationSeconds): void {
      admissions.inc({ webhook, decision });
      duration.observe({ webhook }, durationSeconds);
    },
    observeRejectedRequest(webhook, status): void {
      rejected.inc({ webhook, status: String(status) });
    },
    observeResolveError(registryHost, code): void {
      resolveErrors.inc({ registry: registryLabel(registryHost), code });
    },
    observeCredentialWarning(): void {
      credentialWarnings.inc();
    },
    observeKubeRead(kind, result): void {
      kubeReads.inc({ kind, result });
    },
    setClusterImages(counts): void {
      for (const [state, count] of Object.entries(counts)) clusterImages.set({ state }, count);
    },
  };
}
