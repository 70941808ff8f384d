// Certificate rotation under load: the serving certificate is replaced several times while handshakes keep coming; none fails.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPki } from '../support/pki.ts';
import type { Pki } from '../support/pki.ts';
import { pod } from '../support/objects.ts';
import { admissionReview } from '../support/reviews.ts';
import { startServe } from '../support/serve.ts';
import type { TagpinServer } from '../support/serve.ts';
import { eventually } from '../support/wait.ts';
import { runLoad, tally } from './load.ts';
import type { Outcome } from './load.ts';

const ROTATIONS = 3;
const CONCURRENCY = 16;
/** Handshakes each certificate must complete before the next rotation (and the last before the run ends). */
const SERVED_EACH = 50;
/** Upper bound: the run ends once the last certificate has been served SERVED_EACH times, or at this. */
const MAX_REQUESTS = 20_000;

describe('certificate rotation under load', () => {
  let pki: Pki;
  let dir: string;
  let server: TagpinServer;
  let outcomes: readonly Outcome[];
  const issued: string[] = [];
  /** SHA-256 fingerprints of `issued`, in the same order. */
  const fingerprints: string[] = [];

  /** Replaces the served pair the way a Secret update lands: each file swapped in whole by rename. */
  async function rotate(n: number): Promise<void> {
    const leaf = await pki.issue(`rotated-${String(n)}`, []);
    for (const [from, to] of [[leaf.keyFile, 'tls.key'], [leaf.certFile, 'tls.crt']] as const) {
      const staged = join(dir, `.${to}.${String(n)}`);
      await writeFile(staged, await readFile(from));
      await rename(staged, join(dir, to));
    }
    issued.push(leaf.certPem);
    fingerprints.push(new X509Certificate(leaf.certPem).fingerprint256);
  }

  before(async () => {
    pki = await createPki();
    dir = await mkdtemp(join(tmpdir(), 'tagpin-rotation-'));
    await rotate(0);
    server = await startServe({
      config: { server: { tlsCert: join(dir, 'tls.crt'), tlsKey: join(dir, 'tls.key') } },
      ca: pki.caPem,
    });
    // Each rotation waits until the certificate before it has been served a while: no rotation is
    // superseded unseen, whatever the machine's speed, and nothing here counts time.
    const served = new Map<string, number>();
    const servedOf = (n: number): number => served.get(fingerprints[n] ?? '') ?? 0;
    let finished = false;
    const rotating = (async () => {
      for (let n = 1; n <= ROTATIONS; n++) {
        await eventually(() => finished || servedOf(n - 1) >= SERVED_EACH, `certificate ${String(n - 1)} to be served ${String(SERVED_EACH)} times`, 60_000);
        if (finished) return;
        await rotate(n);
      }
    })();
    const review = JSON.stringify(admissionReview({ object: pod(['nginx:1.27']) }));
    outcomes = await runLoad({
      port: server.port,
      total: MAX_REQUESTS,
      concurrency: CONCURRENCY,
      ca: pki.caPem,
      stop: () => servedOf(ROTATIONS) >= SERVED_EACH,
      onProgress: (_finished, outcome) => {
        if (outcome.kind === 'answered') served.set(outcome.certificate, (served.get(outcome.certificate) ?? 0) + 1);
      },
      request: () => ({
        path: '/validate',
        body: review,
        check: (status, text) => (status === 200 && text.includes('"allowed":true') ? undefined : `HTTP ${String(status)}: ${text.slice(0, 200)}`),
      }),
    });
    finished = true;
    await rotating;
  });
  after(async () => {
    await server?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    if (pki !== undefined) await rm(pki.dir, { recursive: true, force: true });
  });

  it('completes every handshake and answers every request while the certificate changes', (t) => {
    const counts = tally(outcomes);
    const certificates = new Set(outcomes.map((o) => (o.kind === 'answered' ? o.certificate : ''))).size;
    t.diagnostic(`${String(outcomes.length)} handshakes, ${JSON.stringify(counts)}, ${String(certificates)} certificates served`);
    const failed = outcomes.filter((o) => o.kind !== 'answered');
    assert.deepEqual(failed, [], JSON.stringify(counts));
    assert.ok(outcomes.length >= 100, `only ${String(outcomes.length)} requests were sent`);
  });

  it('served each new certificate in turn, without a restart', () => {
    const served = outcomes.map((o) => (o.kind === 'answered' ? o.certificate : ''));
    assert.equal(fingerprints.length, ROTATIONS + 1, 'every rotation happened');
    const firstSeen = fingerprints.map((fingerprint) => served.indexOf(fingerprint));
    assert.ok(firstSeen.every((at) => at >= 0), `every certificate was served: ${JSON.stringify(firstSeen)}`);
    assert.deepEqual([...firstSeen].sort((a, b) => a - b), firstSeen, 'each certificate first showed after the one before it');
    assert.ok(served.every((fingerprint) => fingerprints.includes(fingerprint)), 'only issued certificates were served');
    const reloads = server.lines().filter((l) => l['msg'] === 'serving certificate reloaded');
    assert.ok(reloads.length >= ROTATIONS);
    assert.ok(!server.lines().some((l) => l['msg'] === 'listening' && l !== server.lines().find((x) => x['msg'] === 'listening')), 'restarted');
    assert.equal(server.stderr(), '');
  });
});
