// Docker image reference grammar: parse, normalize and format image strings (pure).
import { InvalidReferenceError } from '../errors/index.ts';
import type { ImageReference, OutputFormat } from './types.ts';

export type { ImageReference, OutputFormat } from './types.ts';
export { OutputFormat as OutputFormats } from './types.ts';

/**
 * Parses an image string per the docker reference grammar and normalizes registry and repository.
 * @throws InvalidReferenceError with a message naming the image and the rule it breaks
 */
export function parseReference(image: string): ImageReference {
  throw new InvalidReferenceError(`not implemented: ${image}`);
}

/** The reference with `digest` appended in the chosen format, built from the string as written. */
export function formatPinned(ref: ImageReference, digest: string, format: OutputFormat): string {
  throw new InvalidReferenceError(`not implemented: ${ref.original} ${digest} ${format}`);
}
