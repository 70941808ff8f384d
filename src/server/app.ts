// The express application: webhook routes, JSON-only bodies up to 3 MiB, health probes, and errors as JSON.
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Webhook } from '../audit/index.ts';

/** Largest AdmissionReview accepted; the API server caps request bodies at 3 MiB too. */
export const BODY_LIMIT = '3mb';

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

  // Any JSON value is parsed, so a body like `null` or `5` is answered "expected a JSON object"
  // by the decoder rather than a misleading JSON syntax error.
  const json = express.json({ limit: BODY_LIMIT, strict: false });
  for (const webhook of ['mutate', 'validate'] as const) {
    const path = `/${webhook}`;
    app.post(
      path,
      (req: Request, res: Response, next: NextFunction) => {
        if (req.is('application/json') === false || req.is('application/json') === null) {
          fail(res, options, webhook, 415, 'Content-Type must be application/json (an AdmissionReview)');
          return;
        }
        next();
      },
      json,
      async (req: Request, res: Response<unknown, Locals>) => {
        const outcome = await options.review(webhook, req.body, res.locals.startedAt);
        if (outcome.status !== 200) {
          const error = (outcome.body as { readonly error?: string }).error ?? 'bad request';
          options.rejected(webhook, outcome.status, error);
        }
        // One string with its length: Node then sends headers and body in one TLS write, where express's
        // json() turns bodies over 1000 characters into a Buffer written separately (two writes, two records).
        const text = JSON.stringify(outcome.body);
        res.status(outcome.status).set({ 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) }).end(text);
      },
    );
    app.all(path, (_req, res) => {
      res.set('Allow', 'POST');
      fail(res, options, webhook, 405, `${path} accepts POST only`);
    });
  }

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found: tagpin serves POST /mutate, POST /validate, GET /healthz, GET /readyz' });
  });

  // Four parameters make this express's error handler: body errors end here as 4xx; only a bug outside
  // the review boundary (server/index.ts) could be a 500, and never with its internals.
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const webhook: Webhook | undefined = req.path === '/mutate' ? 'mutate' : req.path === '/validate' ? 'validate' : undefined;
    const { status, message } = describeBodyError(error);
    if (!isBodyError(error)) options.log.error({ err: error, path: req.path }, 'unexpected error answering a request');
    if (res.headersSent) {
      res.end();
      return;
    }
    if (webhook === undefined) {
      res.status(status).json({ error: message });
      return;
    }
    fail(res, options, webhook, status, message);
  });
  return app;
}

function fail(res: Response, options: AppOptions, webhook: Webhook, status: number, error: string): void {
  options.rejected(webhook, status, error);
  res.status(status).json({ error });
}

/** body-parser marks its errors with a `type`; anything else is unexpected. */
function isBodyError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && typeof (error as { type?: unknown }).type === 'string';
}

/**
 * V8 quotes a piece of the body in some parse errors (`Unexpected token 'e', ..."k": env-abc"... is not
 * valid JSON`); that piece may be part of a secret in the object, and the message is logged, so it goes.
 */
function withoutSnippet(message: string): string {
  return message.replace(/, (?:\.\.\.)?"[\s\S]*"(?:\.\.\.)? is not valid JSON$/, '');
}

function describeBodyError(error: unknown): { readonly status: number; readonly message: string } {
  const type = (error as { type?: unknown } | null)?.type;
  switch (type) {
    case 'entity.too.large':
      return { status: 413, message: 'body exceeds the 3 MiB limit for an AdmissionReview' };
    case 'entity.parse.failed':
      return { status: 400, message: `body is not valid JSON: ${withoutSnippet((error as Error).message)}` };
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return { status: 415, message: (error as Error).message };
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return { status: 400, message: (error as Error).message };
    default:
      // Not the client's fault, so not a 400; the stack is in the log, not in the answer.
      return isBodyError(error)
        ? { status: 400, message: 'the request could not be processed' }
        : { status: 500, message: 'tagpin failed to answer this request (logged with its stack)' };
  }
}
