// `tagpin resolve`: the digest each image's tag names now, as text or JSON.
import { TagpinError } from '../errors/index.ts';
import { formatPinned, parseReference } from '../reference/index.ts';
import type { ImageReference, OutputFormat } from '../reference/index.ts';
import type { OutputMode } from './args.ts';
import { ExitCode, formatError } from './errors.ts';
import type { CliIo } from './io.ts';
import { lookupAll } from './lookup.ts';
import type { LookupContext } from './lookup.ts';

/** One line of `resolve -o json` (docs/contract.md, "Command line"). */
export interface ResolveRecord {
  readonly image: string;
  readonly pinned: string;
  readonly digest: string;
  readonly registry: string;
  readonly repository: string;
  /** The tag looked up (`latest` for an untagged image); null for a digest-only image. */
  readonly tag: string | null;
}

/** An image of `resolve -o json` that failed: the error's stable code and the stderr line's text. */
export interface ResolveFailure {
  readonly image: string;
  readonly error: { readonly code: string; readonly message: string };
}

/** Options of `runResolve`. */
export interface ResolveOptions {
  readonly images: readonly string[];
  readonly output: OutputMode;
  /** `mutate.output`: whether the pinned form keeps the tag. */
  readonly format: OutputFormat;
}

/**
 * Prints each image with its pinned form, in the order given. Images that fail are reported one
 * line each on stderr, left out of the text output and listed with their error in the JSON output;
 * the exit code is then 1. An untagged image is looked up as `latest`, and a note says so.
 */
export async function runResolve(options: ResolveOptions, context: LookupContext, io: CliIo): Promise<number> {
  const parsed: (ImageReference | Error)[] = options.images.map((image) => {
    try {
      return parseReference(image);
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  });
  const toLookUp = parsed.filter((ref): ref is ImageReference => !(ref instanceof Error) && ref.digest === undefined);
  const answers = await lookupAll(context, toLookUp);

  const records: (ResolveRecord | ResolveFailure)[] = [];
  const reported = new Set<string>();
  const fail = (image: string, err: unknown): void => {
    const message = formatError(err);
    if (!reported.has(image)) io.writeErr(`tagpin: ${message}\n`);
    reported.add(image);
    records.push({ image, error: { code: err instanceof TagpinError ? err.code : 'INTERNAL', message } });
  };
  const untagged = new Set<string>();
  for (const [index, image] of options.images.entries()) {
    const ref = parsed[index];
    if (ref === undefined || ref instanceof Error) {
      fail(image, ref);
    } else if (ref.digest !== undefined) {
      // Already pinned: it resolves to itself, without asking the registry.
      records.push({ image, pinned: image, digest: ref.digest, registry: ref.registry, repository: ref.repository, tag: ref.tag ?? null });
    } else {
      const answer = answers.get(ref.original);
      if (answer === undefined || answer instanceof Error) {
        fail(image, answer);
      } else {
        if (ref.tag === undefined && !untagged.has(image)) {
          untagged.add(image);
          io.writeErr(`tagpin: note: ${image} has no tag; resolved tag ${answer.tag ?? 'latest'}\n`);
        }
        const pinned = formatPinned(ref, answer.digest, options.format);
        records.push({ image, pinned, digest: answer.digest, registry: answer.registry, repository: answer.repository, tag: answer.tag });
      }
    }
  }

  if (options.output === 'json') io.writeOut(`${JSON.stringify(records, null, 2)}\n`);
  else for (const record of records) if ('pinned' in record) io.writeOut(`${record.image}\t${record.pinned}\n`);
  return reported.size > 0 ? ExitCode.failed : ExitCode.ok;
}
