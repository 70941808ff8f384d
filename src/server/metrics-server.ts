// The plain-HTTP metrics port: GET /metrics in Prometheus text, nothing else.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/index.ts';

/** An HTTP server answering `GET`/`HEAD /metrics` from `metrics`; 404 elsewhere, 405 for other methods. */
export function createMetricsServer(metrics: Metrics, log: Logger): Server {
  return createServer((req, res) => {
    serveMetrics(metrics, req, res).catch((error: unknown) => {
      log.error({ err: error }, 'metrics scrape failed');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
}

async function serveMetrics(metrics: Metrics, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics') {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('tagpin serves GET /metrics on this port\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET', 'Content-Type': 'text/plain' }).end('GET only\n');
    return;
  }
  const body = await metrics.registry.metrics();
  res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(req.method === 'HEAD' ? undefined : body);
}
