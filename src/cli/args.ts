// Parses the command line into a typed command; usage errors carry the command whose help applies.
import { parseArgs } from 'node:util';
import type { RegistryFlags } from '../config/index.ts';
import { parsePlatform } from '../reference/index.ts';
import type { Platform } from '../reference/index.ts';
import { UsageError } from './errors.ts';
import { isCommandName } from './help.ts';
import type { CommandName } from './help.ts';

/** Output formats of `resolve`, `check` and `audit`. */
export type OutputMode = 'text' | 'json';

/** What every command but `help` carries. */
export interface CommonOptions {
  /** `--config FILE`; undefined falls back to $TAGPIN_CONFIG, then defaults. */
  readonly configFile: string | undefined;
  /** `--insecure-registry`, `--allow-registry`, `--mirror`, `--ca-file`, `--docker-config`, for `applyRegistryFlags`. */
  readonly registryFlags: RegistryFlags;
}

/** A parsed command line. */
export type Command =
  | { readonly name: 'help'; readonly topic: CommandName | undefined }
  | ({ readonly name: 'serve' } & CommonOptions)
  | ({ readonly name: 'version' } & CommonOptions)
  | ({ readonly name: 'resolve'; readonly output: OutputMode; readonly images: readonly string[] } & LookupFlags & CommonOptions)
  | ({ readonly name: 'pin'; readonly files: readonly string[]; readonly write: boolean; readonly allowEmpty: boolean } & LookupFlags & CommonOptions)
  | ({ readonly name: 'check'; readonly files: readonly string[]; readonly output: OutputMode; readonly allowEmpty: boolean } & CommonOptions)
  | ({ readonly name: 'audit'; readonly kubeconfig: string | undefined; readonly namespace: AuditScope; readonly output: OutputMode } & CommonOptions);

/** Where `audit` looks: one namespace (`-n`), every namespace (`-A`), or the kubeconfig context's namespace. */
export type AuditScope = { readonly namespace: string } | 'all' | 'context';

/** What the commands that look images up carry besides the common options. */
export interface LookupFlags {
  /** `--platform os/arch[/variant]`: pin that platform's manifest; undefined pins the index. */
  readonly platform: Platform | undefined;
}

const PLATFORM_OPTION = { platform: { type: 'string' } } as const;

const COMMON_OPTIONS = {
  config: { type: 'string' },
  'insecure-registry': { type: 'string', multiple: true },
  'allow-registry': { type: 'string', multiple: true },
  mirror: { type: 'string', multiple: true },
  'ca-file': { type: 'string' },
  'docker-config': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const OUTPUT_OPTION = { output: { type: 'string', short: 'o' } } as const;
// `-f` as in kubectl; both `--filename` (kubectl's spelling) and `--file` are accepted.
const FILE_OPTIONS = {
  filename: { type: 'string', short: 'f', multiple: true },
  file: { type: 'string', multiple: true },
  'allow-empty': { type: 'boolean' },
} as const;

/**
 * Parses `argv` (without node and script).
 * @throws UsageError naming the unknown command or option, or the missing argument
 */
export function parseCommandLine(argv: readonly string[]): Command {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('no command given');
  if (first === '-h' || first === '--help') return { name: 'help', topic: undefined };
  if (first === 'help') {
    const topic = rest[0];
    if (topic === undefined) return { name: 'help', topic: undefined };
    if (!isCommandName(topic)) throw new UsageError(`unknown command "${topic}"`);
    return { name: 'help', topic };
  }
  if (first === '--version') return { name: 'version', configFile: undefined, registryFlags: {} };
  if (!isCommandName(first)) {
    if (first.startsWith('-')) throw new UsageError(`expected a command before ${first}`);
    throw new UsageError(`unknown command "${first}"`);
  }
  // --help wins over every other mistake on the line, as users type it when stuck.
  if (rest.includes('--help') || rest.includes('-h')) return { name: 'help', topic: first };
  return parseCommand(first, rest);
}

function parseCommand(name: CommandName, args: readonly string[]): Command {
  switch (name) {
    case 'serve':
    case 'version': {
      const { values } = parseFor(name, args, COMMON_OPTIONS, false);
      return { name, ...common(values) };
    }
    case 'resolve': {
      const { values, positionals } = parseFor(name, args, { ...COMMON_OPTIONS, ...OUTPUT_OPTION, ...PLATFORM_OPTION }, true);
      if (positionals.length === 0) throw new UsageError('resolve needs at least one IMAGE', name);
      return { name, output: outputMode(values.output, name), images: positionals, platform: platform(values.platform, name), ...common(values) };
    }
    case 'pin': {
      const options = { ...COMMON_OPTIONS, ...FILE_OPTIONS, ...PLATFORM_OPTION, write: { type: 'boolean', short: 'w' } } as const;
      const { values } = parseFor(name, args, options, false);
      const write = values.write === true;
      return { name, files: files(values, name), write, allowEmpty: values['allow-empty'] === true, platform: platform(values.platform, name), ...common(values) };
    }
    case 'check': {
      const options = { ...COMMON_OPTIONS, ...FILE_OPTIONS, ...OUTPUT_OPTION } as const;
      const { values } = parseFor(name, args, options, false);
      const allowEmpty = values['allow-empty'] === true;
      return { name, files: files(values, name), output: outputMode(values.output, name), allowEmpty, ...common(values) };
    }
    case 'audit': {
      const options = {
        ...COMMON_OPTIONS,
        ...OUTPUT_OPTION,
        kubeconfig: { type: 'string' },
        namespace: { type: 'string', short: 'n' },
        'all-namespaces': { type: 'boolean', short: 'A' },
      } as const;
      const { values } = parseFor(name, args, options, false);
      if (values.kubeconfig === '') throw new UsageError('--kubeconfig needs a non-empty path', name);
      if (values.namespace !== undefined && values['all-namespaces'] === true) throw new UsageError('-n and -A exclude each other: give one', name);
      if (values.namespace === '') throw new UsageError('-n needs a namespace name', name);
      const namespace: AuditScope = values.namespace !== undefined ? { namespace: values.namespace } : values['all-namespaces'] === true ? 'all' : 'context';
      return { name, kubeconfig: values.kubeconfig, namespace, output: outputMode(values.output, name), ...common(values) };
    }
  }
}

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

/** node:util parseArgs with its multi-line messages turned into one line naming the option. */
function parseFor<T extends OptionSpec>(command: CommandName, args: readonly string[], options: T, positionals: boolean) {
  checkSingleDash(command, args, options);
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: positionals });
  } catch (err) {
    throw new UsageError(describeParseError(err), command);
  }
}

/**
 * `-insecure-registry` would otherwise read as the short options `-i -n -s …` (or `-output` as
 * `-o utput`): a single-dash spelling of a long option is named with the fix.
 */
function checkSingleDash(command: CommandName, args: readonly string[], options: OptionSpec): void {
  for (const arg of args) {
    if (arg === '--') return;
    if (!/^-[A-Za-z][A-Za-z-]+/.test(arg)) continue;
    const name = arg.slice(1).split('=')[0] ?? '';
    if (Object.hasOwn(options, name)) throw new UsageError(`unknown option -${name}: did you mean --${name}?`, command);
    // `-strict` is no short option followed by more: name all of it, not its first letter.
    if (!Object.values(options).some((option) => option.short === name[0])) throw new UsageError(`unknown option -${name}`, command);
  }
}

function describeParseError(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  const quoted = /'([^']+)'/.exec(message)?.[1];
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted ?? message}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${quoted ?? message}"`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (message.includes('ambiguous')) return `option ${quoted ?? ''} needs a value (write --option=-value for values starting with -)`;
      if (message.includes('missing')) return `option ${quoted?.replace(/ <value>$/, '') ?? ''} needs a value`;
      return `option ${quoted ?? ''} ${message.includes('does not take') ? 'does not take a value' : 'has an invalid value'}`;
    default:
      return message.split('\n')[0] ?? message;
  }
}

interface CommonValues {
  readonly config?: string | undefined;
  readonly 'insecure-registry'?: string[] | undefined;
  readonly 'allow-registry'?: string[] | undefined;
  readonly mirror?: string[] | undefined;
  readonly 'ca-file'?: string | undefined;
  readonly 'docker-config'?: string | undefined;
}

function common(values: CommonValues): CommonOptions {
  const caFile = values['ca-file'];
  const dockerConfig = values['docker-config'];
  return {
    configFile: values.config,
    registryFlags: {
      insecure: values['insecure-registry'] ?? [],
      allow: values['allow-registry'] ?? [],
      mirrors: values.mirror ?? [],
      ...(caFile === undefined ? {} : { caFile }),
      ...(dockerConfig === undefined ? {} : { dockerConfig }),
    },
  };
}

function outputMode(value: string | undefined, command: CommandName): OutputMode {
  if (value === undefined || value === 'text') return 'text';
  if (value === 'json') return 'json';
  throw new UsageError(`-o must be text or json (got "${value}")`, command);
}

function platform(value: string | undefined, command: CommandName): Platform | undefined {
  if (value === undefined) return undefined;
  try {
    return parsePlatform(value);
  } catch (err) {
    throw new UsageError(`--platform: ${(err as Error).message}`, command);
  }
}

function files(values: { readonly filename?: string[] | undefined; readonly file?: string[] | undefined }, command: CommandName): readonly string[] {
  const all = [...(values.filename ?? []), ...(values.file ?? [])];
  if (all.length === 0) throw new UsageError(`${command} needs at least one -f PATH (use -f - for stdin)`, command);
  for (const path of all) if (path === '') throw new UsageError('-f needs a non-empty path', command);
  return all;
}
