// Exclusions, validation verdicts and mutation plans over image fields (pure).
import type { Config, ExcludeConfig, ValidateConfig } from '../config/types.ts';
import type { ImageReference } from '../reference/types.ts';
import type { ImageField } from '../workload/types.ts';

/** Verdict of `check` and /validate for one image (DESIGN.md `check -o json`). */
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

/** True when objects in `namespace` are left alone. */
export function isNamespaceExcluded(namespace: string | undefined, exclude: ExcludeConfig): boolean {
  throw new Error(`not implemented ${namespace} ${exclude.namespaces.length}`);
}

/** True when the image (as written, or its normalized form) matches an `exclude.images` glob. */
export function isImageExcluded(ref: ImageReference, exclude: ExcludeConfig): boolean {
  throw new Error(`not implemented ${ref.original} ${exclude.images.length}`);
}

/** The validation verdict for one image value (any type: non-strings are `invalid`). */
export function validateImage(value: unknown, config: Pick<Config, 'validate' | 'exclude'>): ImageVerdict {
  throw new Error(`not implemented ${typeof value} ${(config.validate satisfies ValidateConfig).action}`);
}

/** What to do with each image field when pinning. */
export function planMutation(fields: readonly ImageField[], config: Pick<Config, 'exclude'>): readonly MutationStep[] {
  throw new Error(`not implemented ${fields.length} ${config.exclude.images.length}`);
}
