// The express application: webhook routes, JSON-only bodies up to 3 MiB, health probes, and errors as JSON.
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
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
    const handle = webhookHandler(webhook, options);
    app.post(path, (req: Request, res: Response<unknown, Locals>) => handle(req, res, res.locals.startedAt));
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
    answerBug(res, options, webhookAt(req.path), req.path, error);
  });
  return app;
}

/**
 * Answers POST /mutate or /validate on Node's own request and response: the express routes call it,
 * and so does the server's listener before express (`createRequestListener`), so that the path every admission takes
 * runs none of the framework's per-request work.
 */
export function webhookHandler(webhook: Webhook, options: AppOptions): (req: IncomingMessage, res: ServerResponse, startedAt: number) => Promise<void> {
  return async (req, res, startedAt) => {
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
    const outcome = await options.review(webhook, body.value, startedAt);
    if (outcome.status !== 200) {
      const error = (outcome.body as { readonly error?: string }).error ?? 'bad request';
      options.rejected(webhook, outcome.status, error);
    }
    send(res, outcome.status, outcome.body);
  };
}

/**
 * The server's request listener: POST /mutate and /validate go straight to their handlers, everything
 * else (probes, other methods and paths, errors) to the express application. An express route costs
 * more CPU per request than tagpin's whole work on a cached admission; the routes stay in the app too,
 * so both answer alike.
 */
export function createRequestListener(options: AppOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const app = createApp(options);
  const handlers = { mutate: webhookHandler('mutate', options), validate: webhookHandler('validate', options) } as const;
  return (req, res) => {
    const webhook = req.method === 'POST' ? webhookAt(req.url ?? '') : undefined;
    if (webhook === undefined) {
      void app(req, res);
      return;
    }
    handlers[webhook](req, res, Date.now()).catch((error: unknown) => {
      answerBug(res, options, webhook, req.url ?? '', error);
    });
  };
}

/** The webhook a request target names; the API server adds a query (`/mutate?timeout=10s`). */
function webhookAt(target: string): Webhook | undefined {
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  return path === '/mutate' ? 'mutate' : path === '/validate' ? 'validate' : undefined;
}

/** A bug outside the review boundary: logged with its stack, answered 500 without its internals. */
function answerBug(res: ServerResponse, options: AppOptions, webhook: Webhook | undefined, path: string, error: unknown): void {
  options.log.error({ err: error, path }, 'unexpected error answering a request');
  if (res.headersSent) {
    res.end();
    return;
  }
  const message = 'tagpin failed to answer this request (logged with its stack)';
  if (webhook === undefined) send(res, 500, { error: message });
  else fail(res, options, webhook, 500, message);
}

function fail(res: ServerResponse, options: AppOptions, webhook: Webhook, status: number, error: string): void {
  options.rejected(webhook, status, error);
  send(res, status, { error });
}

/** One string with its length: headers and body leave in one TLS write. */
function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
}
