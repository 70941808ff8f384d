// CLI entry: parses argv, loads config, wires adapters, runs a command.
import { loadConfig } from './config/index.ts';
import type { Config } from './config/index.ts';
import { serve } from './server/index.ts';
import {
  COMMAND_HELP,
  ExitCode,
  OVERVIEW,
  debugDetails,
  exitCodeFor,
  formatError,
  parseCommandLine,
  versionText,
  withRegistryFlags,
} from './cli/index.ts';
import type { Command, CommonOptions } from './cli/index.ts';

async function main(argv: readonly string[]): Promise<number> {
  const command = parseCommandLine(argv);
  switch (command.name) {
    case 'help':
      process.stdout.write(command.topic === undefined ? OVERVIEW : COMMAND_HELP[command.topic]);
      return ExitCode.ok;
    case 'version':
      process.stdout.write(await versionText());
      return ExitCode.ok;
    case 'serve':
      await serve(await configFor(command));
      return ExitCode.ok;
    default:
      return runCommand(command);
  }
}

async function configFor(options: CommonOptions): Promise<Config> {
  return withRegistryFlags(await loadConfig(options.configFile), options.registryFlags);
}

async function runCommand(command: Exclude<Command, { name: 'help' | 'version' | 'serve' }>): Promise<number> {
  await configFor(command);
  throw new Error(`${command.name} is not implemented yet`);
}

/** Every error ends here: one line on stderr, an exit code, and the stack only when asked for. */
function report(err: unknown): void {
  process.stderr.write(`tagpin: ${formatError(err)}\n`);
  if (process.env.TAGPIN_DEBUG === '1') process.stderr.write(`${debugDetails(err)}\n`);
  process.exitCode = exitCodeFor(err);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  report(err);
}
