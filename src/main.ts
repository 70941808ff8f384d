// CLI entry: parses argv, loads config, wires adapters, runs a command.
import { readFile } from 'node:fs/promises';
import { applyRegistryFlags, loadConfig } from './config/index.ts';
import type { Config } from './config/index.ts';
import { emptyKeyring, parseDockerConfig } from './credentials/index.ts';
import type { Keyring } from './credentials/index.ts';
import { ConfigError } from './errors/index.ts';
import { createRegistryClient } from './registry/index.ts';
import {
  COMMAND_HELP,
  ExitCode,
  OVERVIEW,
  debugDetails,
  exitCodeFor,
  formatError,
  parseCommandLine,
  processIo,
  runCheck,
  runPin,
  runResolve,
  versionText,
} from './cli/index.ts';
import type { CommonOptions, LookupContext } from './cli/index.ts';

async function main(argv: readonly string[]): Promise<number> {
  const command = parseCommandLine(argv);
  switch (command.name) {
    case 'help':
      processIo.writeOut(command.topic === undefined ? OVERVIEW : COMMAND_HELP[command.topic]);
      return ExitCode.ok;
    case 'version':
      processIo.writeOut(await versionText());
      return ExitCode.ok;
    case 'serve': {
      const config = await configFor(command);
      // Loaded only here: the server's dependencies would double the start-up time of every other command.
      const { serve } = await import('./server/index.ts');
      await serve(config);
      return ExitCode.ok;
    }
    case 'check': {
      const config = await configFor(command);
      return runCheck({ files: command.files, output: command.output, config }, processIo);
    }
    case 'resolve': {
      const config = await configFor(command);
      return withRegistry(config, (context) =>
        runResolve({ images: command.images, output: command.output, format: config.mutate.output }, context, processIo),
      );
    }
    case 'pin': {
      const config = await configFor(command);
      return withRegistry(config, (context) => runPin({ files: command.files, write: command.write, config }, context, processIo));
    }
  }
}

/** The configuration file (or $TAGPIN_CONFIG, or defaults) with the command line's registry flags applied. */
async function configFor(options: CommonOptions): Promise<Config> {
  return applyRegistryFlags(await loadConfig(options.configFile), options.registryFlags);
}

/** Runs `task` with a registry client built from `registries.*`, closing its connections afterwards. */
async function withRegistry(config: Config, task: (context: LookupContext) => Promise<number>): Promise<number> {
  const { registries } = config;
  const ca = registries.caFile === null ? undefined : await readSetting('registries.caFile', registries.caFile);
  const keyring = await loadKeyring(registries.dockerConfig);
  const resolver = createRegistryClient({
    insecure: registries.insecure,
    allow: registries.allow,
    cache: config.cache,
    ...(ca === undefined ? {} : { ca }),
  });
  try {
    return await task({ resolver, keyring, timeoutMs: config.resolve.timeoutMs });
  } finally {
    await resolver.close();
  }
}

async function loadKeyring(path: string | null): Promise<Keyring> {
  if (path === null) return emptyKeyring;
  const text = await readSetting('registries.dockerConfig', path);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`registries.dockerConfig ${path}: not JSON: ${(err as Error).message}`, { where: path, cause: err });
  }
  return parseDockerConfig(document, path);
}

async function readSetting(key: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const reason = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new ConfigError(`${key} ${path}: cannot read file: ${reason}`, { where: path, cause: err });
  }
}

/** Every error ends here: one line on stderr, an exit code, and the stack only when asked for. */
function report(err: unknown): void {
  process.stderr.write(`tagpin: ${formatError(err)}\n`);
  if (process.env.TAGPIN_DEBUG === '1') process.stderr.write(`${debugDetails(err)}\n`);
  process.exitCode = exitCodeFor(err);
}

// A reader that stops early (`tagpin check … | head`) is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  report(err);
});

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  report(err);
}
