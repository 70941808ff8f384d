// CLI entry: parses argv, loads config, wires adapters, runs a command.
import { applyRegistryFlags, defaultDockerConfig, loadConfig } from './config/index.ts';
import type { Config } from './config/index.ts';
import { openRegistryAccess } from './registry/index.ts';
import {
  COMMAND_HELP,
  ExitCode,
  OVERVIEW,
  UsageError,
  debugDetails,
  exitCodeFor,
  formatError,
  parseCommandLine,
  processIo,
  runAudit,
  runCheck,
  runPin,
  runResolve,
  versionText,
} from './cli/index.ts';
import type { AuditScope, CommonOptions, LookupContext } from './cli/index.ts';

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
    case 'audit': {
      const config = await configFor(command);
      // Loaded only here: the Kubernetes client's config module is of no use to the other commands.
      const kube = await import('./kube/index.ts');
      const { listImages, podSpecOf } = await import('./workload/index.ts');
      const kubeConfig = kube.loadKubeConfig(command.kubeconfig);
      if (kubeConfig === undefined) {
        throw new UsageError('no cluster to audit: give --kubeconfig FILE, set KUBECONFIG, or run inside a cluster', 'audit');
      }
      const namespace = auditNamespace(command.namespace, () => kube.contextNamespace(kubeConfig));
      return withRegistry(config, ({ resolver, keyring }) =>
        runAudit(
          {
            output: command.output,
            lister: kube.createKubeLister(kubeConfig),
            resources: Object.values(kube.BUILTIN_RESOURCES),
            reader: { imagesOf: listImages, podSpecOf },
            namespace,
            resolver,
            keyring,
            credentials: kube.createKubeCredentialSource({ kubeConfig }),
            config,
          },
          processIo,
        ),
      );
    }
  }
}

/** The namespace `audit` lists in; undefined for all of them. */
function auditNamespace(scope: AuditScope, fromContext: () => string): string | undefined {
  if (scope === 'all') return undefined;
  return scope === 'context' ? fromContext() : scope.namespace;
}

/** The configuration file (or $TAGPIN_CONFIG, or defaults) with the command line's registry flags applied. */
async function configFor(options: CommonOptions): Promise<Config> {
  return applyRegistryFlags(await loadConfig(options.configFile), options.registryFlags);
}

/**
 * Runs `task` with a registry client built from `registries.*`, closing its connections afterwards.
 * Without a configured docker config, the one docker itself uses is read (`defaultDockerConfig`).
 */
async function withRegistry(config: Config, task: (context: LookupContext) => Promise<number>): Promise<number> {
  const dockerConfig = config.registries.dockerConfig ?? defaultDockerConfig() ?? null;
  const { resolver, keyring } = await openRegistryAccess({ ...config, registries: { ...config.registries, dockerConfig } }, { caller: 'cli' });
  try {
    return await task({ resolver, keyring, timeoutMs: config.resolve.timeoutMs });
  } finally {
    await resolver.close();
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
