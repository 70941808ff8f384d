// Image platforms (`os/arch[/variant]`): parsing and containerd's normalization (pure).
import { InvalidReferenceError } from '../errors/index.ts';

/** A platform as an index entry names it, normalized as containerd normalizes it. */
export interface Platform {
  /** `linux`, `windows`, lower case. */
  readonly os: string;
  /** `amd64`, `arm64`, `arm`, `386`, lower case. */
  readonly architecture: string;
  /** `v7`, `v8`; '' for none (and for architectures that have no default). */
  readonly variant: string;
}

const COMPONENT = /^[a-z0-9_.-]+$/;

/** `arm` and `arm64` entries often leave the variant out; these are what such an entry means (containerd's defaults). */
const DEFAULT_VARIANTS: Readonly<Record<string, string>> = { arm: 'v7', arm64: 'v8' };

/** Architecture spellings containerd folds into one name. */
const ARCHITECTURE_ALIASES: Readonly<Record<string, { readonly architecture: string; readonly variant?: string }>> = {
  i386: { architecture: '386' },
  i486: { architecture: '386' },
  i586: { architecture: '386' },
  i686: { architecture: '386' },
  x86_64: { architecture: 'amd64' },
  'x86-64': { architecture: 'amd64' },
  aarch64: { architecture: 'arm64' },
  armhf: { architecture: 'arm', variant: 'v7' },
  armel: { architecture: 'arm', variant: 'v6' },
};

/**
 * The platform as containerd compares it: lower case, architecture aliases folded (`x86_64` → `amd64`,
 * `aarch64` → `arm64`), a bare variant number prefixed (`8` → `v8`, `v8.0` → `v8`), and `arm`/`arm64`
 * without a variant given their default (`v7`/`v8`).
 */
export function normalizePlatform(os: string, architecture: string, variant = ''): Platform {
  const lowered = architecture.toLowerCase();
  const alias = ARCHITECTURE_ALIASES[lowered];
  const arch = alias?.architecture ?? lowered;
  let v = (alias?.variant ?? variant).toLowerCase();
  if (/^\d/.test(v)) v = `v${v}`;
  v = v.replace(/^(v\d+)\.0$/, '$1');
  if (v === '') v = DEFAULT_VARIANTS[arch] ?? '';
  return { os: os.toLowerCase(), architecture: arch, variant: v };
}

/**
 * Parses `os/arch[/variant]` as `--platform` takes it (`linux/amd64`, `linux/arm64/v8`, `linux/arm/v6`).
 * @throws InvalidReferenceError naming the value and the expected form
 */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().toLowerCase().split('/');
  const [os = '', architecture = '', variant = ''] = parts;
  if (parts.length < 2 || parts.length > 3 || !parts.every((part) => COMPONENT.test(part))) {
    throw new InvalidReferenceError(`invalid platform "${text}": write os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm64/v8`);
  }
  return normalizePlatform(os, architecture, variant);
}

/** `os/arch` or `os/arch/variant`, as `--platform` takes it. */
export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, ...(platform.variant === '' ? [] : [platform.variant])].join('/');
}
