// Runs a credential program (docker credential helper, kubelet credential provider plugin) once: input on
// stdin, output collected, killed with its whole process group on timeout or cancellation.
import { spawn } from 'node:child_process';
import type { SingleFlight } from '../cache/index.ts';
import { raceDeadline } from '../deadline/index.ts';
import { RegistryError, RegistryErrorCode } from '../errors/index.ts';
import type { KeyringContext } from './types.ts';

/** How long a credential program may take when the lookup's deadline allows more. */
export const EXEC_TIMEOUT_MS = 5000;

/** More output than any credential answer needs; a program printing past it is killed. */
const MAX_OUTPUT_BYTES = 1024 * 1024;

/** What to run. */
export interface ExecRequest {
  /** An absolute path, or a plain name looked up on PATH. */
  readonly program: string;
  readonly args: readonly string[];
  /** Written to stdin, which is then closed. */
  readonly input: string;
  /** The whole environment of the program. */
  readonly env: NodeJS.ProcessEnv;
  /** The program is killed after this long. */
  readonly timeoutMs: number;
  /** Kills the program when aborted. */
  readonly signal?: AbortSignal | undefined;
}

/** How a run ended. Output is returned only for a program that exited by itself. */
export type ExecResult =
  | { readonly outcome: 'exited'; readonly code: number | null; readonly stdout: string; readonly stderr: string }
  | { readonly outcome: 'missing' }
  | { readonly outcome: 'not-executable' }
  | { readonly outcome: 'timed-out' }
  | { readonly outcome: 'cancelled' }
  | { readonly outcome: 'too-much-output' };

/**
 * Runs `request.program` and resolves with how it ended; never rejects. A program that times out,
 * is cancelled or floods its output is killed with SIGKILL together with its process group, so a
 * script's own children die with it, and the promise settles without waiting for them.
 */
export function runProgram(request: ExecRequest): Promise<ExecResult> {
  return new Promise((resolve) => {
    if (request.signal?.aborted === true) {
      resolve({ outcome: 'cancelled' });
      return;
    }
    const child = spawn(request.program, [...request.args], {
      env: request.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group, so that a kill reaches whatever the program started.
      detached: true,
      windowsHide: true,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (result: ExecResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const kill = (result: ExecResult): void => {
      // The group outlives a program that exited and left children behind, so it is killed either way.
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }
      finish(result);
    };
    const onAbort = (): void => {
      kill({ outcome: 'cancelled' });
    };
    const timer = setTimeout(() => {
      kill({ outcome: 'timed-out' });
    }, Math.max(0, request.timeoutMs));
    request.signal?.addEventListener('abort', onAbort, { once: true });

    const collect = (into: Buffer[]) => (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_OUTPUT_BYTES) kill({ outcome: 'too-much-output' });
      else into.push(chunk);
    };
    child.stdout.on('data', collect(stdout));
    child.stderr.on('data', collect(stderr));
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') finish({ outcome: 'missing' });
      else if (error.code === 'EACCES') finish({ outcome: 'not-executable' });
      else kill({ outcome: 'exited', code: null, stdout: '', stderr: error.message });
    });
    child.on('close', (code) => {
      finish({ outcome: 'exited', code, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') });
    });
    // A program that exits without reading its input closes the pipe under us; that is its answer, not ours.
    child.stdin.on('error', () => undefined);
    child.stdin.end(request.input);
  });
}

/** The first non-empty line of a program's stderr, trimmed to `max` characters: safe to quote in a message. */
export function firstLine(text: string, max = 100): string {
  const line = text.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** How a program that failed ended, for a message: `exit 3: keychain locked`; never its stdout. */
export function describeExit(code: number | null, stderr: string): string {
  const why = firstLine(stderr);
  return `${code === null ? 'killed by a signal' : `exit ${String(code)}`}${why === '' ? '' : `: ${why}`}`;
}

/** Who a run is for, to name it when a caller stops waiting: `docker-credential-gcloud`, `gcr.io`. */
export interface RunLabel {
  /** The program as messages name it. */
  readonly program: string;
  /** What it is getting credentials for: a server URL or an image. */
  readonly subject: string;
  readonly registry: string;
  /** Where the program is configured, when messages say so. */
  readonly where?: string;
}

/**
 * Joins the run of `key` in `flights` (starting `work` when none is under way) and waits for it
 * until the caller's deadline or cancellation, then rejects with a `REGISTRY_TIMEOUT` naming the
 * program. The run itself goes on while any caller still waits; `work`'s signal aborts once every
 * caller has left.
 */
export async function joinRun<V>(
  flights: SingleFlight<V>,
  key: string,
  work: (signal: AbortSignal) => Promise<V>,
  context: KeyringContext,
  label: RunLabel,
): Promise<V> {
  const ticket = flights.join(key, (budget) => work(budget.signal), context.deadline);
  const late = (): RegistryError => {
    const message =
      context.signal?.aborted === true
        ? `lookup cancelled while ${label.program} was getting credentials for ${label.subject}`
        : `timed out waiting for ${label.program} to get credentials for ${label.subject}${label.where === undefined ? '' : ` (${label.where})`}`;
    return new RegistryError(RegistryErrorCode.timeout, message, { registry: label.registry });
  };
  try {
    return await raceDeadline(ticket.promise, context.deadline, context.signal, late);
  } finally {
    ticket.leave();
  }
}
