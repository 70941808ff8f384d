// Exclusions, validation verdicts and mutation plans over image fields (pure).
import type { Config, ExcludeConfig, ValidateConfig } from '../config/index.ts';
import { InvalidReferenceError } from '../errors/index.ts';
import { normalizedName, normalizedString, parseReference } from '../reference/index.ts';
import type { ImageReference } from '../reference/index.ts';
import type { ImageField } from '../workload/index.ts';
import { compileGlob, globMatches } from '../glob/index.ts';
import type { Glob } from '../glob/index.ts';

/** Verdict of `check` and /validate for one image (docs/contract.md, "check"). */
export type Verdict = 'ok' | 'violation' | 'invalid' | 'excluded';

export interface ImageVerdict {
  readonly verdict: Verdict;
  /** Why, for anything but `ok`: "tag latest is mutable", "no tag or digest", "invalid reference: …". */
  readonly reason?: string;
  /** Present when the value parsed as a reference. */
  readonly ref?: ImageReference;
}

/** What /mutate and `pin` do with one image field. */
export interface MutationStep {
  readonly field: ImageField;
  /** `resolve`: look the tag up; `keep`: already has a digest; `excluded`; `invalid`: not a usable reference. */
  readonly action: 'resolve' | 'keep' | 'excluded' | 'invalid';
  readonly ref?: ImageReference;
  readonly reason?: string;
}

/** True when objects in `namespace` are left alone. Cluster-scoped objects (no namespace) never are. */
export function isNamespaceExcluded(namespace: string | undefined, exclude: ExcludeConfig): boolean {
  return namespace !== undefined && namespace !== '' && exclude.namespaces.includes(namespace);
}

/**
 * True when the image matches an `exclude.images` glob. Each glob must match a whole string, one of:
 * the image as written (`istio/proxyv2:1.22`), its normalized form (`docker.io/istio/proxyv2:1.22`),
 * or either name without tag and digest (`istio/proxyv2`, `docker.io/istio/proxyv2`), so a glob
 * without a tag covers every tag. `*` matches any run of characters, `/` and `:` included; `?`
 * matches one character; everything else is literal and case-sensitive. Because the match is whole,
 * `docker.io/istio/*` covers `istio/proxyv2:1.22` but not `docker.io/istio-evil/x`.
 */
export function isImageExcluded(ref: ImageReference, exclude: ExcludeConfig): boolean {
  return excludingGlob(ref, exclude) !== undefined;
}

/** The validation verdict for one image value (any type: non-strings are `invalid`). */
export function validateImage(value: unknown, config: Pick<Config, 'validate' | 'exclude'>): ImageVerdict {
  const parsed = parseImage(value);
  if (!('ref' in parsed)) return { verdict: 'invalid', reason: parsed.reason };
  const { ref } = parsed;
  const glob = excludingGlob(ref, config.exclude);
  if (glob !== undefined) return { verdict: 'excluded', reason: `matches exclude.images ${JSON.stringify(glob)}`, ref };
  const reason = violation(ref, config.validate);
  return reason === undefined ? { verdict: 'ok', ref } : { verdict: 'violation', reason, ref };
}

/** What to do with each image field when pinning. */
export function planMutation(fields: readonly ImageField[], config: Pick<Config, 'exclude'>): readonly MutationStep[] {
  return fields.map((field): MutationStep => {
    const parsed = parseImage(field.value);
    if (!('ref' in parsed)) return { field, action: 'invalid', reason: parsed.reason };
    const { ref } = parsed;
    const glob = excludingGlob(ref, config.exclude);
    if (glob !== undefined) return { field, action: 'excluded', ref, reason: `matches exclude.images ${JSON.stringify(glob)}` };
    // An image that names a digest is already immutable: leave it exactly as written.
    if (ref.digest !== undefined) return { field, action: 'keep', ref };
    return { field, action: 'resolve', ref };
  });
}

/**
 * The first rule `ref` breaks, or undefined. A digest satisfies every rule. An image without a tag
 * answers only to `denyUntagged` (and `requireDigest`): the tag rules judge tags that were written.
 */
function violation(ref: ImageReference, rules: ValidateConfig): string | undefined {
  if (ref.digest !== undefined) return undefined;
  if (rules.requireDigest) return 'no digest (requireDigest)';
  const { tag } = ref;
  if (tag === undefined) return rules.denyUntagged ? 'no tag or digest (resolves to latest)' : undefined;
  if (tag === 'latest' && rules.denyLatest) return 'tag latest is mutable';
  const mutable = rules.mutableTags.find((pattern) => pattern.test(tag));
  if (mutable !== undefined) return `tag ${tag} matches mutableTags ${JSON.stringify(patternSource(mutable))}`;
  if (rules.allowedTags.length > 0 && !rules.allowedTags.some((pattern) => pattern.test(tag))) {
    return `tag ${tag} is not in allowedTags and has no digest`;
  }
  return undefined;
}

type Parsed = { readonly ref: ImageReference } | { readonly reason: string };

function parseImage(value: unknown): Parsed {
  if (typeof value !== 'string') return { reason: `image is not a string (got ${value === null ? 'null' : typeof value})` };
  if (value === '') return { reason: 'image is empty' };
  try {
    return { ref: parseReference(value) };
  } catch (err) {
    if (err instanceof InvalidReferenceError) return { reason: err.message };
    throw err;
  }
}

function excludingGlob(ref: ImageReference, exclude: ExcludeConfig): string | undefined {
  if (exclude.images.length === 0) return undefined;
  const candidates = [ref.original, normalizedString(ref), ref.name, normalizedName(ref)];
  return exclude.images.find((text) => {
    const glob = imageGlob(text);
    return candidates.some((candidate) => globMatches(glob, candidate));
  });
}

/** Compiled globs, keyed by their text; bounded by the configuration's size. */
const globCache = new Map<string, Glob>();

/** `exclude.images` globs: only `*` and `?` are special, so brackets and backslashes (`[::1]:5000/*`) are literal. */
function imageGlob(text: string): Glob {
  let glob = globCache.get(text);
  if (glob === undefined) {
    // Escaped, every character is a literal, a `*` or a `?`: the pattern cannot be malformed.
    glob = compileGlob(text.replace(/[[\]\\]/g, '\\$&')) ?? { tokens: [], separator: '' };
    globCache.set(text, glob);
  }
  return glob;
}

/** The pattern as the user wrote it, without the whole-match anchors config validation adds. */
function patternSource(pattern: RegExp): string {
  const { source } = pattern;
  return source.startsWith('^(?:') && source.endsWith(')$') ? source.slice(4, -2) : source;
}
