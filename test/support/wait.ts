// Waiting for something a test caused to show up (a log line, a closed connection), without asserting how long it took.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Resolves once `check()` holds, polling every 20 ms; rejects naming `what` if it still does not
 * after `limitMs`. The limit only stops a broken test from hanging: it is no bound on the code under test.
 */
export async function eventually(check: () => boolean, what: string, limitMs = 15_000): Promise<void> {
  const giveUpAt = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > giveUpAt) throw new Error(`still waiting, after ${String(limitMs)} ms, for ${what}`);
    await sleep(20);
  }
}
