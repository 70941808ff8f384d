// The HTTP surface of `tagpin serve`: bad bodies never crash it or earn a 500, probes, the generated certificate, and draining on SIGTERM.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer as createTlsServer } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import { createPki } from '../support/pki.ts';
import { listen } from '../support/ports.ts';
import { sample } from '../support/prometheus.ts';
import { admissionReview } from '../support/reviews.ts';
import { startServe } from '../support/serve.ts';
import type { TagpinServer } from '../support/serve.ts';
import { startSilentServer } from '../support/servers.ts';
import type { SilentServer } from '../support/servers.ts';
import { eventually } from '../support/wait.ts';

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

  it('keeps serving after bad requests, and counts each one rejected by its status', async () => {
    const rejected = async (status: string): Promise<number> =>
      sample(await server.metrics(), 'tagpin_admission_rejected_requests_total', { webhook: 'mutate', status }) ?? 0;
    const before = { 400: await rejected('400'), 413: await rejected('413') };
    assert.equal((await server.post('/mutate', '{"apiVersion": ', { 'content-type': 'application/json' })).status, 400);
    const big = admissionReview({ object: { ...pod, metadata: { ...pod.metadata, annotations: { big: 'x'.repeat(3 * 1024 * 1024) } } } });
    assert.equal((await server.post('/mutate', big)).status, 413);
    const answer = await server.review('mutate', admissionReview({ object: pod }));
    assert.equal(answer.response.allowed, true);
    assert.equal(server.stderr(), '');
    assert.deepEqual({ 400: await rejected('400'), 413: await rejected('413') }, { 400: before[400] + 1, 413: before[413] + 1 });
  });

  it('answers a review sent to /mutate?timeout=10s, the target the API server uses, like one sent to /mutate', async () => {
    for (const path of ['/mutate?timeout=10s', '/validate?timeout=10s']) {
      const review = admissionReview({ object: pod, uid: `query-${path.slice(1, 4)}` });
      const answer = await server.post(path, JSON.stringify(review), { 'content-type': 'application/json' });
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual((answer.json as { response: { uid: string; allowed: boolean } }).response.uid, `query-${path.slice(1, 4)}`);
      const bad = await server.post(path, '{"apiVersion": ', { 'content-type': 'application/json' });
      assert.equal(bad.status, 400);
      assert.match((bad.json as { error: string }).error, /not valid JSON/);
    }
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

  it('refuses TLS 1.1 from a client that offers it, with a protocol_version alert', async () => {
    // OpenSSL 3 offers TLS 1.1 only at security level 0; the handshake with a permissive server proves this client does.
    const tls11: ConnectionOptions = { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0', rejectUnauthorized: false };
    const pki = await createPki();
    const leaf = await pki.issue('tls11-control', []);
    const permissive = createTlsServer({ key: leaf.keyPem, cert: leaf.certPem, minVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }, (socket) => socket.end());
    try {
      const { port } = await listen(permissive);
      assert.equal(await handshake(port, tls11), 'TLSv1.1', 'the client offers TLS 1.1');
    } finally {
      permissive.close();
    }
    const refusal = await handshake(server.port, tls11).then(
      (protocol) => assert.fail(`tagpin accepted ${protocol}`),
      (error: unknown) => error as NodeJS.ErrnoException,
    );
    // An alert from the server, not a client that could not even start (ERR_SSL_NO_PROTOCOLS_AVAILABLE).
    assert.equal(refusal.code, 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', String(refusal));
  });
});

describe('tagpin serve on SIGTERM', () => {
  /** Holds the slow lookup open until the test lets go. */
  let hanging: SilentServer;
  let server: TagpinServer;

  before(async () => {
    hanging = await startSilentServer();
    // A budget no step here comes near: only the test ends the slow lookup.
    server = await startServe({ config: { registries: { insecure: [hanging.host] }, resolve: { timeoutMs: 30_000 } } });
  });
  after(async () => {
    await server?.stop();
    await hanging?.close();
  });

  it('turns not ready, lets a slow request in flight finish, refuses new connections, and exits 0', async () => {
    // Connection B begins a /readyz request and finishes it after SIGTERM, so it is answered while draining.
    const probe = await openRaw(server.port);
    await probe.write('GET /readyz HTTP/1.1\r\nHost: loc');
    // Connection A sends a review whose lookup the hanging registry holds.
    const slowReview = admissionReview({ object: { ...pod, spec: { containers: [{ name: 'a', image: `${hanging.host}/demo/app:v1` }] } } });
    const body = JSON.stringify(slowReview);
    const slow = await openRaw(server.port);
    await slow.write(`POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${String(Buffer.byteLength(body))}\r\n\r\n${body}`);
    await eventually(() => hanging.asked() > 0, 'the slow review to reach its registry');

    server.kill('SIGTERM');
    await server.waitForLine((line) => String(line['msg']).startsWith('draining'));
    await probe.write('alhost\r\nConnection: close\r\n\r\n');
    assert.match(await probe.closed, /^HTTP\/1\.1 503 /);
    assert.equal(slow.received(), '', 'the slow review is still in flight');

    // The registry lets go: the lookup fails, and the review in flight is answered before the exit.
    await hanging.close();
    const slowAnswer = await slow.closed;
    assert.match(slowAnswer, /^HTTP\/1\.1 200 /);
    assert.match(slowAnswer, /"uid":"[^"]+","allowed":false/);

    const refused = await server.get('/healthz').then(
      () => 'answered',
      () => 'refused',
    );
    assert.equal(refused, 'refused');
    const exit = await server.exited();
    assert.deepEqual(exit, { code: 0, signal: null });
    const messages = server.lines().map((l) => l['msg']);
    assert.ok(messages.includes('stopped'));
    assert.ok(!messages.includes('drain timed out; remaining connections closed'));
  });
});

/** The TLS version a handshake with `port` settles on, or the error that ended it. */
async function handshake(port: number, options: ConnectionOptions): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ...options }, () => {
      resolve(socket.getProtocol() ?? 'unknown');
      socket.end();
    });
    socket.once('error', reject);
  });
}

/** A raw TLS connection to tagpin: the test writes when it chooses, and reads everything until the connection closes. */
interface RawConnection {
  write(text: string): Promise<void>;
  /** What has arrived so far. */
  received(): string;
  /** Everything that arrived, once the connection has closed. */
  readonly closed: Promise<string>;
}

async function openRaw(port: number): Promise<RawConnection> {
  let text = '';
  const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    text += chunk;
  });
  const closed = new Promise<string>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('close', () => {
      resolve(text);
    });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  return {
    write: (chunk) =>
      new Promise<void>((resolve, reject) => {
        socket.write(chunk, (error) => {
          if (error === undefined || error === null) resolve();
          else reject(error);
        });
      }),
    received: () => text,
    closed,
  };
}

function withRequest(changes: Readonly<Record<string, unknown>>): unknown {
  const review = admissionReview({ object: pod });
  // JSON drops undefined members, which is how a change removes a field.
  return JSON.parse(JSON.stringify({ ...review, request: { ...(review['request'] as Record<string, unknown>), ...changes } })) as unknown;
}
