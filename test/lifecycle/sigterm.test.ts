// SIGTERM under load: every request in flight is answered, later ones are refused cleanly, none is dropped, and the exit is 0.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startFaultProxy } from '../support/fault-proxy.ts';
import type { FaultProxy } from '../support/fault-proxy.ts';
import { requireRegistryBinary, startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { pod } from '../support/objects.ts';
import { admissionReview } from '../support/reviews.ts';
import { startServe } from '../support/serve.ts';
import type { TagpinServer } from '../support/serve.ts';
import { runLoad, tally } from './load.ts';
import type { Outcome } from './load.ts';

const TOTAL = 200;
const CONCURRENCY = 16;
/** Each lookup takes this long at the registry, so requests are surely in flight when the signal lands. */
const REGISTRY_LATENCY_MS = 300;
const SIGNAL_AFTER = 60;

describe('SIGTERM under load', () => {
  let registry: TestRegistry;
  let slow: FaultProxy;
  let server: TagpinServer;
  let digest: string;
  let outcomes: readonly Outcome[];
  /** The requests that finished after SIGTERM was sent, in the order they finished. */
  const afterSignal = new Set<Outcome>();
  let exit: { readonly code: number | null; readonly signal: NodeJS.Signals | null };

  before(async () => {
    requireRegistryBinary();
    registry = await startRegistry('http');
    digest = await registry.push('demo/app', 'v1', 'oci-manifest');
    slow = await startFaultProxy({ upstream: registry.baseUrl, fault: { kind: 'latency', ms: REGISTRY_LATENCY_MS } });
    server = await startServe({
      config: {
        registries: { insecure: [slow.host], allow: [slow.host] },
        resolve: { timeoutMs: 5000 },
        // Every admission goes to the registry: nothing is answered from cache in a blink.
        cache: { ttlSeconds: 0 },
      },
    });
    const image = `${slow.host}/demo/app:v1`;
    outcomes = await runLoad({
      port: server.port,
      total: TOTAL,
      concurrency: CONCURRENCY,
      request: (i) => {
        const uid = `sigterm-${String(i)}`;
        return {
          path: '/mutate',
          body: JSON.stringify(admissionReview({ uid, object: pod([image]) })),
          check: (status, text) => {
            if (status !== 200) return `HTTP ${String(status)}: ${text.slice(0, 200)}`;
            const review = JSON.parse(text) as { response?: { uid?: string; allowed?: boolean; patch?: string } };
            if (review.response?.uid !== uid) return `uid ${String(review.response?.uid)} for ${uid}`;
            const patch = Buffer.from(review.response.patch ?? '', 'base64').toString('utf8');
            return patch.includes(`${image}@${digest}`) ? undefined : `not pinned: ${text.slice(0, 200)}`;
          },
        };
      },
      onProgress: (finished, outcome) => {
        if (finished > SIGNAL_AFTER) afterSignal.add(outcome);
        if (finished === SIGNAL_AFTER) server.kill('SIGTERM');
      },
    });
    exit = await server.exited();
  });
  after(async () => {
    await server?.stop();
    await slow?.close();
    await registry?.stop();
  });

  it('answers every request it accepted, including those in flight at SIGTERM, and drops none', (t) => {
    const counts = tally(outcomes);
    const dropped = outcomes.filter((o) => o.kind === 'aborted' || o.kind === 'wrong' || o.kind === 'handshake-failed');
    assert.deepEqual(dropped, [], JSON.stringify(counts));
    assert.equal(counts.answered + counts.refused, TOTAL);
    const inFlight = outcomes.filter((o) => o.kind === 'answered' && afterSignal.has(o));
    assert.ok(inFlight.length >= 1, `no request was in flight at SIGTERM (${JSON.stringify(counts)})`);
    t.diagnostic(`${JSON.stringify(counts)}; ${String(inFlight.length)} answered after SIGTERM`);
    assert.ok(counts.answered >= SIGNAL_AFTER);
  });

  it('refuses the requests that come after the listener closed, at connect time', () => {
    const refused = outcomes.filter((o): o is Extract<Outcome, { kind: 'refused' }> => o.kind === 'refused');
    assert.ok(refused.length > 0, 'the load went on after SIGTERM');
    for (const r of refused) assert.match(r.code, /ECONNREFUSED|ECONNRESET/);
  });

  it('exits 0 within the drain budget, saying it drained without cutting connections', () => {
    assert.deepEqual(exit, { code: 0, signal: null });
    const messages = server.lines().map((l) => l['msg']);
    assert.ok(messages.includes('stopped'));
    assert.ok(!messages.includes('drain timed out; remaining connections closed'));
  });
});
