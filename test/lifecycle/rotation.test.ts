// Certificate rotation under load: the serving certificate is replaced several times while handshakes keep coming; none fails.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPki } from '../support/pki.ts';
import type { Pki } from '../support/pki.ts';
import { admissionReview, startServe } from '../support/serve.ts';
import type { TagpinServer } from '../support/serve.ts';
import { pod } from '../faults/helpers.ts';
import { runLoad, tally } from './load.ts';
import type { Outcome } from './load.ts';

const ROTATIONS = 3;
const ROTATE_EVERY_MS = 900;
const CONCURRENCY = 16;
/** Upper bounds: the run ends once every rotation has been served, or at these. */
const MAX_REQUESTS = 5000;
const MAX_MS = 20_000;

describe('certificate rotation under load', () => {
  let pki: Pki;
  let dir: string;
  let server: TagpinServer;
  let outcomes: readonly Outcome[];
  const issued: string[] = [];

  /** Replaces the served pair the way a Secret update lands: each file swapped in whole by rename. */
  async function rotate(n: number): Promise<void> {
    const leaf = await pki.issue(`rotated-${String(n)}`, []);
    for (const [from, to] of [[leaf.keyFile, 'tls.key'], [leaf.certFile, 'tls.crt']] as const) {
      const staged = join(dir, `.${to}.${String(n)}`);
      await writeFile(staged, await readFile(from));
      await rename(staged, join(dir, to));
    }
    issued.push(leaf.certPem);
  }

  before(async () => {
    pki = await createPki();
    dir = await mkdtemp(join(tmpdir(), 'tagpin-rotation-'));
    await rotate(0);
    server = await startServe({
      config: { server: { tlsCert: join(dir, 'tls.crt'), tlsKey: join(dir, 'tls.key') } },
      ca: pki.caPem,
    });
    const started = Date.now();
    let rotated = 0;
    let servedLast = 0;
    const rotating = (async () => {
      while (rotated < ROTATIONS && Date.now() - started < MAX_MS) {
        await new Promise((resolve) => setTimeout(resolve, ROTATE_EVERY_MS));
        rotated += 1;
        await rotate(rotated);
      }
    })();
    const review = JSON.stringify(admissionReview({ object: pod(['nginx:1.27']) }));
    outcomes = await runLoad({
      port: server.port,
      total: MAX_REQUESTS,
      concurrency: CONCURRENCY,
      ca: pki.caPem,
      // Keep the handshakes coming until the last certificate has been served a while.
      stop: () => servedLast >= 50 || Date.now() - started > MAX_MS,
      onProgress: (_finished, outcome) => {
        const last = issued[ROTATIONS];
        if (last !== undefined && outcome.kind === 'answered' && outcome.certificate === new X509Certificate(last).fingerprint256) servedLast += 1;
      },
      request: () => ({
        path: '/validate',
        body: review,
        check: (status, text) => (status === 200 && text.includes('"allowed":true') ? undefined : `HTTP ${String(status)}: ${text.slice(0, 200)}`),
      }),
    });
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
    const expected = issued.map((pem) => new X509Certificate(pem).fingerprint256);
    // A rotation may land between two polls and be superseded before any handshake sees it; the first and last must show.
    assert.ok(served.includes(expected[0] ?? ''), 'the first certificate was served');
    assert.ok(served.includes(expected[ROTATIONS] ?? ''), 'the last certificate was served');
    assert.ok(new Set(served).size >= 3, `${String(new Set(served).size)} distinct certificates served for ${String(ROTATIONS)} rotations`);
    assert.ok(served.every((fingerprint) => expected.includes(fingerprint)), 'only issued certificates were served');
    const reloads = server.lines().filter((l) => l['msg'] === 'serving certificate reloaded');
    assert.ok(reloads.length >= ROTATIONS);
    assert.ok(!server.lines().some((l) => l['msg'] === 'listening' && l !== server.lines().find((x) => x['msg'] === 'listening')), 'restarted');
    assert.equal(server.stderr(), '');
  });
});
