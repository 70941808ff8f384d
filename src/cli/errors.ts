// How the command line turns errors into one stderr line and an exit code.
import { ConfigError, InputError, InvalidReferenceError, RegistryError, TagpinError, describeError } from '../errors/index.ts';

/** Exit codes of every command (docs/contract.md, "Command line"). */
export const ExitCode = {
  ok: 0,
  /** Policy violations (`check`) or images that could not be resolved (`resolve`, `pin`). */
  failed: 1,
  /** Usage or configuration error, unreadable input, or a bug. */
  usage: 2,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The command line itself is wrong: unknown command or option, missing argument. */
export class UsageError extends TagpinError {
  /** The command whose help explains the fix, when one applies. */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super('USAGE', message);
    this.command = command;
  }
}

/** The exit code an error that reached the top of a command stands for. */
export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof RegistryError) return ExitCode.failed;
  return ExitCode.usage;
}

/**
 * One line for stderr, without the `tagpin: ` prefix: names the image and the registry when the
 * error knows them, so a CI log says what failed where (`nginx:1.99: tag 1.99 not found in …`).
 */
export function formatError(err: unknown): string {
  if (err instanceof UsageError) {
    const hint = err.command === undefined ? 'tagpin --help' : `tagpin ${err.command} --help`;
    return `${err.message} (see ${hint})`;
  }
  if (err instanceof TagpinError) return describeTagpinError(err);
  if (err instanceof Error) return `internal error: ${oneLine(err.message)} (set TAGPIN_DEBUG=1 for details)`;
  return `internal error: ${oneLine(String(err))} (set TAGPIN_DEBUG=1 for details)`;
}

function describeTagpinError(err: TagpinError): string {
  let message = oneLine(describeError(err));
  // Config and input messages already start with the file or key they are about.
  if (err instanceof ConfigError || err instanceof InputError) {
    return err.where !== undefined && !message.includes(err.where) ? `${err.where}: ${message}` : message;
  }
  if (err.registry !== undefined && !message.includes(err.registry)) message += ` (registry ${err.registry})`;
  // A bad reference's message quotes the image already: `invalid image reference "X": …`.
  if (err.image !== undefined && !(err instanceof InvalidReferenceError) && !message.startsWith(err.image)) {
    message = `${err.image}: ${message}`;
  }
  return message;
}

/** Messages from libraries sometimes span lines; stderr gets exactly one per error. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** The stack of an unexpected error and its causes, for TAGPIN_DEBUG=1. */
export function debugDetails(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    parts.push(current instanceof Error ? (current.stack ?? current.message) : String(current));
    current = current instanceof Error ? current.cause : undefined;
    if (current !== undefined) parts.push('caused by:');
  }
  return parts.join('\n');
}
