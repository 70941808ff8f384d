// The express application: webhook routes, JSON-only bodies up to 3 MiB, health probes, and errors as JSON.
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Webhook } from '../audit/index.ts';
import { isJsonRequest, readJsonBody } from './body.ts';

export { BODY_LIMIT_BYTES } from './body.ts';

/** What the routes need from the server around them. */
export interface AppOptions {
  /** Answers one review; `startedAt` is when the request arrived (epoch ms). */
  readonly review: (webhook: Webhook, body: unknown, startedAt: number) => Promise<{ readonly status: number; readonly body: unknown }>;
  /** Called for every webhook request answered with an HTTP error instead of a review. */
  readonly rejected: (webhook: Webhook, status: number, error: string) => void;
  /** False while starting and while draining: /readyz answers 503. */
  readonly isReady: () => boolean;
  readonly log: Logger;
}

interface Locals {
  startedAt: number;
}

/** Builds the routes: POST /mutate, POST /validate, GET /healthz, GET /readyz. */
export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((_req: Request, res: Response<unknown, Locals>, next: NextFunction) => {
    // The deadline counts from arrival, before the body is read.
    res.locals.startedAt = Date.now();
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.get('/readyz', (_req, res) => {
    const ready = options.isReady();
    res.status(ready ? 200 : 503).type('text/plain').send(ready ? 'ready' : 'not ready');
  });

  for (const webhook of ['mutate', 'validate'] as const) {
    const path = `/${webhook}`;
    app.post(path, async (req: Request, res: Response<unknown, Locals>) => {
      if (!isJsonRequest(req)) {
        req.resume();
        fail(res, options, webhook, 415, 'Content-Type must be application/json (an AdmissionReview)');
        return;
      }
      const body = await readJsonBody(req);
      if (!body.ok) {
        fail(res, options, webhook, body.status, body.message);
        return;
      }
      const outcome = await options.review(webhook, body.value, res.locals.startedAt);
      if (outcome.status !== 200) {
        const error = (outcome.body as { readonly error?: string }).error ?? 'bad request';
        options.rejected(webhook, outcome.status, error);
      }
      // One string with its length, straight to Node: headers and body leave in one TLS write, and
      // none of express's per-call header handling runs on the path every admission takes.
      const text = JSON.stringify(outcome.body);
      res.writeHead(outcome.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
    });
    app.all(path, (_req, res) => {
      res.set('Allow', 'POST');
      fail(res, options, webhook, 405, `${path} accepts POST only`);
    });
  }

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found: tagpin serves POST /mutate, POST /validate, GET /healthz, GET /readyz' });
  });

  // Four parameters make this express's error handler: only a bug outside the review boundary
  // (server/index.ts) ends here, answered 500 without its internals.
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    options.log.error({ err: error, path: req.path }, 'unexpected error answering a request');
    if (res.headersSent) {
      res.end();
      return;
    }
    const message = 'tagpin failed to answer this request (logged with its stack)';
    if (req.path === '/mutate' || req.path === '/validate') fail(res, options, req.path === '/mutate' ? 'mutate' : 'validate', 500, message);
    else res.status(500).json({ error: message });
  });
  return app;
}

function fail(res: Response, options: AppOptions, webhook: Webhook, status: number, error: string): void {
  options.rejected(webhook, status, error);
  res.status(status).json({ error });
}
