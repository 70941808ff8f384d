// A long-running test process with its output in a log file, stopped by its PID whatever happens.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { killOnExit } from '../../support/exit-cleanup.ts';

/** A started process. */
export interface Daemon {
  readonly name: string;
  readonly pid: number;
  /** Everything it wrote to stdout and stderr so far. */
  log(): string;
  /** The exit, once it happened. */
  exited(): { readonly code: number | null; readonly signal: NodeJS.Signals | null } | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it is gone. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `command args` with stdout and stderr appended to `logFile`; it is killed if the test process dies. */
export function startDaemon(name: string, command: string, args: readonly string[], logFile: string, env: NodeJS.ProcessEnv = process.env): Daemon {
  const fd = openSync(logFile, 'a');
  const child = spawn(command, [...args], { stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  killOnExit(child);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const gone = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    });
    child.once('error', () => {
      exit ??= { code: null, signal: null };
      resolve();
    });
  });
  let stopping: Promise<void> | undefined;
  return {
    name,
    pid: child.pid ?? 0,
    log: () => readFileSync(logFile, 'utf8'),
    exited: () => exit,
    stop(graceMs = 5_000) {
      stopping ??= (async () => {
        if (exit !== undefined) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await gone;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/**
 * Polls `probe` every 200 ms until it returns true. Fails with the daemon's last log lines when the
 * daemon exits first or `limitMs` passes (a start-up bound, not a measured time).
 */
export async function waitUntil(daemon: Daemon, what: string, probe: () => Promise<boolean>, limitMs = 120_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    const exit = daemon.exited();
    if (exit !== undefined || Date.now() > deadline) {
      const tail = daemon.log().trim().split('\n').slice(-15).join('\n');
      const why = exit === undefined ? `not ${what} after ${String(limitMs / 1000)} s` : `exited (${exit.signal ?? `code ${String(exit.code)}`}) before ${what}`;
      throw new Error(`${daemon.name} ${why}; last log lines:\n${tail}`);
    }
    await sleep(200);
  }
}
