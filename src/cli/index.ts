// Command line: argv parsing, help, and the resolve / pin / check commands over files and stdin.
export { parseCommandLine } from './args.ts';
export type { Command, CommonOptions, OutputMode, RegistryFlags } from './args.ts';
export { COMMAND_HELP, OVERVIEW } from './help.ts';
export type { CommandName } from './help.ts';
export { ExitCode, UsageError, debugDetails, exitCodeFor, formatError } from './errors.ts';
export { withRegistryFlags } from './settings.ts';
export { versionText } from './version.ts';
