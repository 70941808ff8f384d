// Warm-path baselines: an HTTPS server that parses each AdmissionReview and returns a fixed answer, either on
// bare node:https or on express with express.json (the framework tagpin serves with), to price the framework.
// Usage: node bench/lib/bare-server.ts PORT CERT_FILE KEY_FILE ANSWER_FILE [bare|express]
// ANSWER_FILE holds the `response` object tagpin gave for the same review; only `uid` is replaced per request.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';

const [portArg, certFile, keyFile, answerFile, mode = 'bare'] = process.argv.slice(2);
if (portArg === undefined || certFile === undefined || keyFile === undefined || answerFile === undefined || (mode !== 'bare' && mode !== 'express')) {
  process.stderr.write('usage: bare-server.ts PORT CERT_FILE KEY_FILE ANSWER_FILE [bare|express]\n');
  process.exit(2);
}
const fixed = JSON.parse(readFileSync(answerFile, 'utf8')) as Readonly<Record<string, unknown>>;

/** The fixed answer with the request's uid, or undefined when the body is not a review. */
function answer(review: unknown): string | undefined {
  const uid = (review as { request?: { uid?: unknown } } | null)?.request?.uid;
  if (typeof uid !== 'string') return undefined;
  return JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { ...fixed, uid } });
}

function bareHandler(req: IncomingMessage, res: ServerResponse): void {
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ready');
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let body: string | undefined;
    try {
      body = answer(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    } catch {
      body = undefined;
    }
    if (body === undefined) {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"not an AdmissionReview"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  });
}

function expressApp(): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/readyz', (_req, res) => {
    res.type('text/plain').send('ready');
  });
  app.post('/mutate', express.json({ limit: '3mb', strict: true }), (req, res) => {
    const body = answer(req.body);
    if (body === undefined) {
      res.status(400).json({ error: 'not an AdmissionReview' });
      return;
    }
    res.type('application/json').send(body);
  });
  return app;
}

const server = createServer({ minVersion: 'TLSv1.2', cert: readFileSync(certFile), key: readFileSync(keyFile) }, mode === 'express' ? expressApp() : bareHandler);
server.keepAliveTimeout = 30_000;
server.listen(Number(portArg), '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
