// Command line: argv parsing, help, the resolve / pin / check commands over files and stdin, and audit over a cluster.
export { parseCommandLine } from './args.ts';
export type { AuditScope, Command, CommonOptions, OutputMode } from './args.ts';
export { COMMAND_HELP, OVERVIEW } from './help.ts';
export type { CommandName } from './help.ts';
export { ExitCode, UsageError, debugDetails, exitCodeFor, formatError } from './errors.ts';
export { processIo } from './io.ts';
export type { CliIo } from './io.ts';
export type { LookupContext } from './lookup.ts';
export { runResolve } from './resolve.ts';
export type { ResolveFailure, ResolveOptions, ResolveRecord } from './resolve.ts';
export { runPin } from './pin.ts';
export type { PinOptions } from './pin.ts';
export { runCheck } from './check.ts';
export type { CheckOptions, CheckRecord } from './check.ts';
export { runAudit } from './audit.ts';
export type { AuditOptions } from './audit.ts';
export { versionText } from './version.ts';
