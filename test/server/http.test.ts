// The HTTP surface of `tagpin serve`: bad bodies never crash it or earn a 500, probes, the generated certificate, and draining on SIGTERM.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { connect } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { admissionReview, startServe } from '../support/serve.ts';
import type { TagpinServer } from '../support/serve.ts';

const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'demo' }, spec: { containers: [{ name: 'a', image: 'app@sha256:' + 'b'.repeat(64) }] } };

describe('tagpin serve HTTP handling', () => {
  let server: TagpinServer;

  before(async () => {
    server = await startServe({});
  });
  after(async () => {
    await server?.stop();
  });

  const malformed: ReadonlyArray<readonly [string, unknown, RegExp]> = [
    ['a body that is not JSON', '{"apiVersion": ', /not valid JSON/],
    ['JSON that is not an object', '"AdmissionReview"', /not an AdmissionReview: expected a JSON object/],
    ['a JSON null', 'null', /not an AdmissionReview: expected a JSON object/],
    ['a JSON number', '5', /not an AdmissionReview: expected a JSON object/],
    ['an object that is not an AdmissionReview', { hello: 'world' }, /not an AdmissionReview/],
    ['a review of an unknown API version', { ...admissionReview({ object: pod }), apiVersion: 'admission.k8s.io/v2' }, /apiVersion/],
    ['a review without request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, /request is missing/],
    ['a review without request.uid', withRequest({ uid: undefined }), /request\.uid is missing/],
    ['a review whose uid is not a string', withRequest({ uid: 12 }), /request\.uid must be a string/],
    ['a CREATE without object', withRequest({ object: null }), /request\.object is missing/],
    ['a review without request.kind', withRequest({ kind: undefined }), /request\.kind\.kind is missing/],
    ['a review with an unknown operation', withRequest({ operation: 'PATCH' }), /request\.operation/],
  ];
  for (const [what, body, error] of malformed) {
    it(`answers ${what} with HTTP 400 and a JSON error`, async () => {
      for (const path of ['/mutate', '/validate']) {
        const answer = await server.post(path, typeof body === 'string' ? body : JSON.stringify(body), { 'content-type': 'application/json' });
        assert.equal(answer.status, 400, answer.text);
        assert.match(answer.headers['content-type'] as string, /^application\/json/);
        const json = answer.json as { error?: unknown };
        assert.equal(typeof json.error, 'string');
        assert.match(json.error as string, error);
      }
    });
  }

  it('answers a body over 3 MiB with 413', async () => {
    const review = admissionReview({ object: { ...pod, metadata: { ...pod.metadata, annotations: { big: 'x'.repeat(3 * 1024 * 1024) } } } });
    const answer = await server.post('/mutate', review);
    assert.equal(answer.status, 413);
    assert.match((answer.json as { error: string }).error, /3 MiB/);
  });

  it('accepts a review just under the limit', async () => {
    const review = admissionReview({ object: { ...pod, metadata: { ...pod.metadata, annotations: { big: 'x'.repeat(3 * 1024 * 1024 - 4096) } } } });
    const answer = await server.post('/mutate', review);
    assert.equal(answer.status, 200);
  });

  it('answers a body that is not JSON by type with 415', async () => {
    const answer = await server.post('/mutate', 'uid=1', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(answer.status, 415);
    assert.match((answer.json as { error: string }).error, /application\/json/);
  });

  it('answers other methods and paths with JSON errors', async () => {
    const get = await server.get('/mutate');
    assert.equal(get.status, 405);
    assert.equal(get.headers['allow'], 'POST');
    const missing = await server.get('/nothing-here');
    assert.equal(missing.status, 404);
    assert.equal(typeof (missing.json as { error?: unknown }).error, 'string');
  });

  it('is still serving after all of that, and counts the rejected requests', async () => {
    const answer = await server.review('mutate', admissionReview({ object: pod }));
    assert.equal(answer.response.allowed, true);
    assert.equal(server.stderr(), '');
    const metrics = await server.metrics();
    assert.match(metrics, /^tagpin_admission_rejected_requests_total\{webhook="mutate",status="400"\} [1-9]\d*$/m);
    assert.match(metrics, /^tagpin_admission_rejected_requests_total\{webhook="mutate",status="413"\} 1$/m);
  });

  it('answers /healthz and /readyz', async () => {
    assert.equal((await server.get('/healthz')).status, 200);
    assert.equal((await server.get('/readyz')).status, 200);
  });

  it('serves a generated certificate for localhost when none is configured, says so, and logs how to send a review', async () => {
    const warning = server.lines().find((l) => typeof l['msg'] === 'string' && (l['msg'] as string).includes('self-signed'));
    assert.ok(warning !== undefined);
    assert.equal(warning['level'], 40);
    const hint = server.lines().find((l) => typeof l['msg'] === 'string' && (l['msg'] as string).startsWith('send a review: curl '));
    assert.ok(hint !== undefined);
    assert.ok((hint['msg'] as string).includes(`https://localhost:${String(server.port)}/mutate`));
    const subject = await new Promise<{ altNames: string; protocol: string | null }>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: server.port, servername: 'localhost', rejectUnauthorized: false }, () => {
        const cert = socket.getPeerCertificate();
        resolve({ altNames: cert.subjectaltname ?? '', protocol: socket.getProtocol() });
        socket.end();
      });
      socket.once('error', reject);
    });
    assert.match(subject.altNames, /DNS:localhost/);
    assert.match(subject.altNames, /IP Address:127\.0\.0\.1/);
    assert.ok(subject.protocol === 'TLSv1.2' || subject.protocol === 'TLSv1.3');
  });

  it('refuses TLS 1.1', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false, minVersion: 'TLSv1', maxVersion: 'TLSv1.1' }, () => {
        socket.end();
        resolve('connected');
      });
      socket.once('error', () => {
        resolve('refused');
      });
    });
    assert.equal(outcome, 'refused');
  });
});

describe('tagpin serve on SIGTERM', () => {
  let hanging: Server;
  let hangingHost: string;
  const sockets = new Set<Socket>();
  let server: TagpinServer;

  before(async () => {
    hanging = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    hangingHost = `127.0.0.1:${String((hanging.address() as AddressInfo).port)}`;
    server = await startServe({ config: { registries: { insecure: [hangingHost] }, resolve: { timeoutMs: 2000 } } });
  });
  after(async () => {
    await server?.stop();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => {
      if (hanging === undefined) resolve();
      else hanging.close(() => resolve());
    });
  });

  it('turns not ready, lets a slow request in flight finish, refuses new connections, and exits 0', async () => {
    // A lookup against a registry that never answers keeps this request in flight for about 2 s.
    const slowReview = admissionReview({ object: { ...pod, spec: { containers: [{ name: 'a', image: `${hangingHost}/demo/app:v1` }] } } });
    const body = JSON.stringify(slowReview);
    // Connection A sends the slow review; connection B has begun a /readyz request and finishes it
    // after SIGTERM, so it is answered while draining.
    const slow = rawExchange(
      server.port,
      `POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${String(Buffer.byteLength(body))}\r\n\r\n${body}`,
    );
    const probe = rawExchange(server.port, 'GET /readyz HTTP/1.1\r\nHost: loc', 'alhost\r\nConnection: close\r\n\r\n', 600);
    await sleep(300);
    server.kill('SIGTERM');
    const [slowAnswer, probeAnswer] = await Promise.all([slow, probe]);
    assert.match(slowAnswer, /^HTTP\/1\.1 200 /);
    assert.match(slowAnswer, /"uid":"[^"]+","allowed":false/);
    assert.match(probeAnswer, /^HTTP\/1\.1 503 /);

    const refused = await server.get('/healthz').then(
      () => 'answered',
      () => 'refused',
    );
    assert.equal(refused, 'refused');
    const exit = await server.exited();
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(server.lines().some((l) => l['msg'] === 'stopped'));
  });
});

/** Writes `first` on a new TLS connection, `rest` after `delayMs`, and returns everything read until the connection closes. */
async function rawExchange(port: number, first: string, rest = '', delayMs = 0): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let text = '';
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      socket.write(first);
      if (rest !== '') setTimeout(() => socket.write(rest), delayMs);
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.once('error', reject);
    socket.once('close', () => {
      resolve(text);
    });
    setTimeout(() => socket.destroy(), 15_000).unref();
  });
}

function withRequest(changes: Readonly<Record<string, unknown>>): unknown {
  const review = admissionReview({ object: pod });
  // JSON drops undefined members, which is how a change removes a field.
  return JSON.parse(JSON.stringify({ ...review, request: { ...(review['request'] as Record<string, unknown>), ...changes } })) as unknown;
}
