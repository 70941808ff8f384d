// CLI entry: parses argv, loads config, wires adapters, runs a command.
// Only what parsing, help and version need is loaded up front; each command loads its own modules,
// so `tagpin version` and `tagpin help` start in a fraction of the time.
import { COMMAND_HELP, ExitCode, OVERVIEW, UsageError, debugDetails, exitCodeFor, formatError, parseCommandLine, processIo, versionText } from './cli/index.ts';
import type { AuditScope, CommonOptions, LookupContext } from './cli/index.ts';
import type { Config } from './config/index.ts';
import type { Platform } from './reference/index.ts';

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
      const { runCheck } = await import('./cli/index.ts');
      return runCheck({ files: command.files, output: command.output, allowEmpty: command.allowEmpty, config }, processIo);
    }
    case 'resolve': {
      const config = await configFor(command);
      const { runResolve } = await import('./cli/index.ts');
      return withRegistry(config, command.platform, (context) =>
        runResolve({ images: command.images, output: command.output, format: config.mutate.output }, context, processIo),
      );
    }
    case 'pin': {
      const config = await configFor(command);
      const { runPin } = await import('./cli/index.ts');
      const pin = { files: command.files, write: command.write, allowEmpty: command.allowEmpty, config };
      return withRegistry(config, command.platform, (context) => runPin(pin, context, processIo));
    }
    case 'audit': {
      const config = await configFor(command);
      // Loaded only here: the Kubernetes client's config module is of no use to the other commands.
      const kube = await import('./kube/index.ts');
      const { objectReader, workloadKinds } = await import('./workload/index.ts');
      const { runAudit } = await import('./cli/index.ts');
      const kinds = workloadKinds(config.workloads);
      const kubeConfig = kube.loadKubeConfig(command.kubeconfig);
      if (kubeConfig === undefined) {
        throw new UsageError('no cluster to audit: give --kubeconfig FILE, set KUBECONFIG, or run inside a cluster', 'audit');
      }
      const namespace = auditNamespace(command.namespace, () => kube.contextNamespace(kubeConfig));
      return withRegistry(config, undefined, ({ resolver, keyring }) =>
        runAudit(
          {
            output: command.output,
            lister: kube.createKubeLister(kubeConfig),
            resources: kube.workloadResources(kinds),
            reader: objectReader(kinds),
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
  const { applyRegistryFlags, loadConfig } = await import('./config/index.ts');
  return applyRegistryFlags(await loadConfig(options.configFile), options.registryFlags);
}

/**
 * Runs `task` with a registry client built from `registries.*`, closing its connections afterwards.
 * Without a configured docker config, the one docker itself uses is read (`defaultDockerConfig`).
 */
async function withRegistry(config: Config, platform: Platform | undefined, task: (context: LookupContext) => Promise<number>): Promise<number> {
  const { defaultDockerConfig } = await import('./config/index.ts');
  const { openRegistryAccess } = await import('./registry/index.ts');
  const dockerConfig = config.registries.dockerConfig ?? defaultDockerConfig() ?? null;
  const { resolver, keyring } = await openRegistryAccess({ ...config, registries: { ...config.registries, dockerConfig } }, { caller: 'cli' });
  try {
    return await task({ resolver, keyring, timeoutMs: config.resolve.timeoutMs, platform });
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

// No top-level await: the single executable runs this bundled as CommonJS.
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, report);
