// The state of one image field from the policy and what the registry answered (pure).
import type { ResolvedImage } from '../admission/index.ts';
import type { Config } from '../config/index.ts';
import { RegistryErrorCode, describeError } from '../errors/index.ts';
import type { RegistryError } from '../errors/index.ts';
import { validateImage } from '../policy/index.ts';
import { parseReference } from '../reference/index.ts';
import type { ImageReference } from '../reference/index.ts';
import { ImageState } from './types.ts';

/** What the registry answered for one lookup. */
export type Answer = ResolvedImage | RegistryError;

/** What an image field needs: a state already, or lookups of its tag and digest. */
export type Plan =
  | { readonly settled: true; readonly state: ImageState; readonly reason: string; readonly ref?: ImageReference; readonly excluded: string | null }
  | {
      readonly settled: false;
      readonly ref: ImageReference & { readonly digest: string };
      /** `name:tag` to look up, when the image names a tag beside its digest. */
      readonly byTag: ImageReference | undefined;
      /** `name@digest`: asked for a digest alone, and for a tag that no longer names it. */
      readonly byDigest: ImageReference;
      readonly excluded: string | null;
    };

/** The verdict of a state: what it is, the digest the tag names now, and why. */
export interface Judged {
  readonly state: ImageState;
  readonly tagDigest: string | null;
  readonly reason: string | null;
}

const NO_EXCLUSIONS = { namespaces: [], images: [] } as const;

/**
 * The policy's say first: a value that is no reference, or an image without digest that the
 * validation policy denies, is a `violation`; one it allows is `unpinned`. Images with a digest need
 * the registry. `namespaceExcluded` and `exclude.images` only mark the image (it is judged all the same).
 */
export function planImage(value: unknown, config: Pick<Config, 'validate' | 'exclude'>, namespaceExcluded: string | undefined): Plan {
  const judged = validateImage(value, { validate: config.validate, exclude: NO_EXCLUSIONS });
  const byImage = validateImage(value, config);
  const excluded = namespaceExcluded ?? (byImage.verdict === 'excluded' ? (byImage.reason ?? 'excluded') : null);
  const { ref } = judged;
  if (ref === undefined || judged.verdict === 'invalid' || judged.verdict === 'violation') {
    return { settled: true, state: ImageState.violation, reason: judged.reason ?? judged.verdict, ...(ref === undefined ? {} : { ref }), excluded };
  }
  if (ref.digest === undefined) return { settled: true, state: ImageState.unpinned, reason: 'no digest', ref, excluded };
  const { digest } = ref;
  return {
    settled: false,
    ref: { ...ref, digest },
    byTag: ref.tag === undefined ? undefined : parseReference(`${ref.name}:${ref.tag}`),
    byDigest: parseReference(`${ref.name}@${digest}`),
    excluded,
  };
}

/** Whether the digest must be asked for too: always without a tag, else when the tag does not name it now. */
export function needsDigestLookup(plan: Extract<Plan, { settled: false }>, byTag: Answer | undefined): boolean {
  if (plan.byTag === undefined) return true;
  if (byTag === undefined) return false;
  return isAnswer(byTag) ? byTag.digest !== plan.ref.digest : byTag.code === RegistryErrorCode.notFound;
}

/** The state of an image with a digest, from the answers for its tag and (when asked) its digest. */
export function judgeLookups(plan: Extract<Plan, { settled: false }>, byTag: Answer | undefined, byDigest: Answer | undefined): Judged {
  const { ref } = plan;
  const where = `${ref.registry}/${ref.repository}`;
  const digestState = (): { readonly held: boolean | undefined; readonly why: string } => {
    if (byDigest === undefined) return { held: undefined, why: 'not asked' };
    if (isAnswer(byDigest)) {
      return byDigest.digest === ref.digest ? { held: true, why: '' } : { held: undefined, why: `the registry answered ${byDigest.digest} for it` };
    }
    return byDigest.code === RegistryErrorCode.notFound ? { held: false, why: describeError(byDigest) } : { held: undefined, why: describeError(byDigest) };
  };

  if (plan.byTag === undefined || byTag === undefined) {
    const { held, why } = digestState();
    if (held === true) return { state: ImageState.pinned, tagDigest: null, reason: null };
    if (held === false) return { state: ImageState.missing, tagDigest: null, reason: `${ref.digest} is no longer in ${where}` };
    return { state: ImageState.failed, tagDigest: null, reason: why };
  }
  const tag = plan.byTag.tag ?? 'latest';
  if (isAnswer(byTag)) {
    if (byTag.digest === ref.digest) return { state: ImageState.pinned, tagDigest: byTag.digest, reason: null };
    const { held, why } = digestState();
    const moved = `tag ${tag} now names ${byTag.digest}, not the pinned ${ref.digest}`;
    if (held === false) return { state: ImageState.missing, tagDigest: byTag.digest, reason: `${ref.digest} is no longer in ${where} (${moved})` };
    return { state: ImageState.drifted, tagDigest: byTag.digest, reason: held === true ? moved : `${moved}; whether the pinned digest still exists is unknown: ${why}` };
  }
  if (byTag.code !== RegistryErrorCode.notFound) return { state: ImageState.failed, tagDigest: null, reason: describeError(byTag) };
  const { held, why } = digestState();
  if (held === true) return { state: ImageState.drifted, tagDigest: null, reason: `tag ${tag} no longer exists in ${where}` };
  if (held === false) return { state: ImageState.missing, tagDigest: null, reason: `${ref.digest} is no longer in ${where} (nor is tag ${tag})` };
  return { state: ImageState.failed, tagDigest: null, reason: why };
}

function isAnswer(answer: Answer): answer is ResolvedImage {
  return !(answer instanceof Error);
}
