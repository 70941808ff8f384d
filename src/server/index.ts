// HTTPS server for the admission webhooks: routes, limits, TLS reload, health, graceful shutdown.
import type { Config } from '../config/types.ts';

/** Runs `tagpin serve` until SIGTERM/SIGINT, then drains and resolves. */
export async function serve(config: Config): Promise<void> {
  throw new Error(`not implemented ${config.server.port}`);
}
