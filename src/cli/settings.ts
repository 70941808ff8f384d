// Applies the command line's registry flags over the loaded configuration.
import type { Config } from '../config/index.ts';
import type { RegistryFlags } from './args.ts';

/** `config` with `--insecure-registry` appended and `--ca-file` / `--docker-config` replacing the file's values. */
export function withRegistryFlags(config: Config, flags: RegistryFlags): Config {
  return {
    ...config,
    registries: {
      ...config.registries,
      insecure: [...config.registries.insecure, ...flags.insecure],
      caFile: flags.caFile ?? config.registries.caFile,
      dockerConfig: flags.dockerConfig ?? config.registries.dockerConfig,
    },
  };
}
