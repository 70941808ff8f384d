// Audit records of admission decisions: their schema, their JSON log line and their auditAnnotations.
import type { Logger } from 'pino';

/** Which webhook made the decision. */
export type Webhook = 'mutate' | 'validate';

/** The outcome of one admission (docs/contract.md, "Audit log"). */
export type Decision = 'allowed' | 'patched' | 'denied' | 'warned';

/**
 * What happened to one image field.
 * /mutate: `pinned` (looked up and patched), `kept` (the old object's pinned value kept on UPDATE),
 * `ok` (already has a digest), `unchanged` (not touched by this UPDATE), `excluded`, `invalid`, `failed` (lookup failed).
 * /validate: `ok`, `violation`, `invalid`, `excluded`.
 */
export type ImageVerdict = 'pinned' | 'kept' | 'ok' | 'unchanged' | 'excluded' | 'invalid' | 'failed' | 'violation';

/** One image field in an audit record. */
export interface AuditImage {
  /** JSON Pointer of the image field. */
  readonly path: string;
  /** The value as written in the request (non-strings are rendered as JSON). */
  readonly image: string;
  /** The value the field holds after the admission, when tagpin set or kept a pinned value. */
  readonly pinned?: string;
  readonly verdict: ImageVerdict;
  /** Why, for anything but a plain success. */
  readonly reason?: string;
}

/** One admission decision, exactly the fields of the audit log contract. */
export interface AuditEvent {
  readonly webhook: Webhook;
  readonly uid: string;
  readonly operation: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** `userInfo.username` of the request. */
  readonly user: string;
  readonly dryRun: boolean;
  readonly decision: Decision;
  readonly durationMs: number;
  readonly images: readonly AuditImage[];
}

/** Writes audit records. */
export interface AuditLog {
  record(event: AuditEvent): void;
}

/** Message of every audit line; consumers select on `"logger":"audit"`, not on this. */
const AUDIT_MESSAGE = 'admission decision';

/** Audit records as JSON lines through `logger`, tagged `"logger":"audit"`. */
export function createAuditLog(logger: Logger): AuditLog {
  const audit = logger.child({ logger: 'audit' });
  return {
    record(event: AuditEvent): void {
      // Fields are copied one by one so nothing beyond the contract can slip into the line.
      audit.info(
        {
          webhook: event.webhook,
          uid: event.uid,
          operation: event.operation,
          kind: event.kind,
          namespace: event.namespace,
          name: event.name,
          user: event.user,
          dryRun: event.dryRun,
          decision: event.decision,
          durationMs: event.durationMs,
          images: event.images.map(copyImage),
        },
        AUDIT_MESSAGE,
      );
    },
  };
}

function copyImage(image: AuditImage): AuditImage {
  return {
    path: image.path,
    image: image.image,
    ...(image.pinned === undefined ? {} : { pinned: image.pinned }),
    verdict: image.verdict,
    ...(image.reason === undefined ? {} : { reason: image.reason }),
  };
}

// The API server keeps auditAnnotations only under keys that are qualified names; values have no
// documented limit, but an audit backend should not receive megabytes from one admission.
const ANNOTATION_VALUE_LIMIT = 8192;
const ANNOTATION_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** True when `key` is a valid auditAnnotations key (the name part of a qualified name, ≤ 63 chars). */
export function isValidAnnotationKey(key: string): boolean {
  return key.length <= 63 && ANNOTATION_NAME.test(key);
}

/**
 * The decision as the API server's auditAnnotations: `decision` and `images`, the latter a JSON
 * array of `{path, image, pinned?, verdict}` (a count when it would be too long).
 */
export function auditAnnotations(event: AuditEvent): Readonly<Record<string, string>> {
  const images = JSON.stringify(
    event.images.map((i) => ({
      path: i.path,
      image: i.image,
      ...(i.pinned === undefined ? {} : { pinned: i.pinned }),
      verdict: i.verdict,
    })),
  );
  return {
    decision: event.decision,
    images:
      images.length <= ANNOTATION_VALUE_LIMIT
        ? images
        : `${String(event.images.length)} images; see the tagpin audit log for uid ${event.uid}`,
  };
}
