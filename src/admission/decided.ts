// The outcome of one webhook's decision, before it is encoded as a response.
import type { AuditImage, Decision } from '../audit/index.ts';
import type { ReplaceOperation } from '../workload/index.ts';

/** What a webhook decided about one request. */
export interface Decided {
  readonly decision: Decision;
  readonly images: readonly AuditImage[];
  /** `replace` operations on image fields; empty when nothing changes. */
  readonly patch: readonly ReplaceOperation[];
  /** Admission warnings, not yet cut to the API server's limits. */
  readonly warnings: readonly string[];
  /** Set when the request is denied: the message listing every offending image. */
  readonly denial?: string;
  /** Lines for the operational log (not the audit log): why a lookup went on without credentials, etc. */
  readonly notes: readonly string[];
}

/** An admitted request with no changes. */
export function admitted(images: readonly AuditImage[], warnings: readonly string[] = []): Decided {
  return { decision: warnings.length > 0 ? 'warned' : 'allowed', images, patch: [], warnings, notes: [] };
}

/** `count` with the noun, pluralised: "1 image", "2 images". */
export function plural(count: number, noun: string): string {
  return `${String(count)} ${noun}${count === 1 ? '' : 's'}`;
}
