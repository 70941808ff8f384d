// The warm path's pieces timed in-process, without HTTP: what one cached admission costs tagpin's core.
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { handleReview } from '../../src/admission/index.ts';
import type { AdmissionDeps } from '../../src/admission/index.ts';
import { createAuditLog } from '../../src/audit/index.ts';
import { DEFAULT_CONFIG } from '../../src/config/index.ts';
import type { Config } from '../../src/config/index.ts';
import { emptyKeyring } from '../../src/credentials/index.ts';
import { createMetrics } from '../../src/metrics/index.ts';
import { createRegistryClient } from '../../src/registry/index.ts';
import { median, round } from './bench.ts';
import type { Budget } from './bench.ts';

/** Microseconds per call of one piece. */
export interface Piece {
  readonly name: string;
  readonly us: number;
}

const BATCHES = 5;
const BATCH_SIZE = 4_000;

/**
 * Times, per call: what the bare baseline does besides HTTP (parse + stringify), tagpin's
 * `handleReview` on a warm cache, the audit line (pino to /dev/null, synchronous like stdout),
 * the metrics update, and an `AbortController.abort()` without a reason (it builds a DOMException).
 */
export async function timeWarmPieces(body: string, insecureRegistry: string, budget: Budget): Promise<readonly Piece[]> {
  const config: Config = {
    ...DEFAULT_CONFIG,
    registries: { ...DEFAULT_CONFIG.registries, insecure: [insecureRegistry] },
    cache: { ttlSeconds: 3600, maxEntries: 10_000 },
  };
  const resolver = createRegistryClient({ insecure: [insecureRegistry], cache: config.cache });
  const deps: AdmissionDeps = { config, resolver, keyring: emptyKeyring };
  const audit = createAuditLog(pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: true })));
  const metrics = createMetrics();
  try {
    const first = await handleReview('mutate', JSON.parse(body), deps, Date.now());
    if (first.status !== 200 || first.body.response.patch === undefined) throw new Error('handleReview did not pin the review (is the registry up?)');
    const event = first.audit;
    const reason = new Error('answered');

    const pieces: Piece[] = [];
    const time = async (name: string, call: () => unknown): Promise<void> => {
      const batches: number[] = [];
      // One batch of warm-up lets the JIT settle before anything is recorded.
      for (let batch = 0; batch <= BATCHES; batch++) {
        budget.check(`timing ${name}`);
        const started = performance.now();
        for (let i = 0; i < BATCH_SIZE; i++) {
          const result = call();
          if (result instanceof Promise) await result;
        }
        if (batch > 0) batches.push(((performance.now() - started) * 1000) / BATCH_SIZE);
      }
      pieces.push({ name, us: round(median(batches), 2) });
    };

    const fixed = first.body.response;
    await time('baseline logic: JSON.parse(review) + JSON.stringify(answer)', () => {
      const review = JSON.parse(body) as { request: { uid: string } };
      return JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { ...fixed, uid: review.request.uid } });
    });
    await time('JSON.parse(review) alone', () => JSON.parse(body));
    await time('handleReview(mutate), warm cache (includes JSON.parse)', () => handleReview('mutate', JSON.parse(body), deps, Date.now()));
    await time('JSON.stringify(answer)', () => JSON.stringify(first.body));
    await time('audit.record (pino, sync write to /dev/null)', () => {
      audit.record(event);
    });
    await time('metrics.observeAdmission', () => {
      metrics.observeAdmission('mutate', event.decision, event.durationMs / 1000);
    });
    await time('new AbortController().abort() (DOMException)', () => {
      new AbortController().abort();
    });
    await time('new AbortController().abort(reason)', () => {
      new AbortController().abort(reason);
    });
    return pieces;
  } finally {
    await resolver.close();
  }
}
