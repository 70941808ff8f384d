// Admission webhooks: decode an AdmissionReview, decide /mutate or /validate, encode the answer and its audit record.
import { auditAnnotations, type AuditEvent, type Webhook } from '../audit/index.ts';
import { InputError, TagpinError, describeError } from '../errors/index.ts';
import { admitted, type Decided } from './decided.ts';
import { mutate } from './mutate.ts';
import { decodeReview, encodePatch, encodeReview, type AdmissionRequest, type AdmissionResponse, type AdmissionReviewResponse } from './review.ts';
import type { AdmissionDeps } from './types.ts';
import { validate } from './validate.ts';
import { boundWarnings } from './warnings.ts';

export type * from './types.ts';
export type * from './ports.ts';
export { resolveAll } from './resolve.ts';
export type { BatchOptions } from './resolve.ts';
export type { AdmissionRequest, AdmissionResponse, AdmissionReviewResponse, AdmissionVersion } from './review.ts';
export { ADMISSION_VERSIONS, decodeReview } from './review.ts';
export { keptPinnedValue } from './mutate.ts';
export { boundWarnings, WARNING_MAX_LENGTH, WARNINGS_MAX_TOTAL } from './warnings.ts';

/** The answer to one webhook request. */
export type ReviewOutcome =
  | {
      /** A decision: HTTP 200 with an AdmissionReview. */
      readonly status: 200;
      readonly body: AdmissionReviewResponse;
      readonly audit: AuditEvent;
      /** Lines for the operational log of this admission. */
      readonly notes: readonly string[];
      /** An unexpected error that was turned into a decision; log it with its stack. */
      readonly internalError?: unknown;
    }
  | {
      /** Not an AdmissionReview tagpin can answer: HTTP 400 with `{"error": …}`. */
      readonly status: 400;
      readonly body: { readonly error: string };
    };

/**
 * Answers one AdmissionReview sent to `webhook`. Never rejects: malformed input yields a 400
 * outcome, and an unexpected failure inside a decision is answered per `resolve.onError`
 * (/mutate) or `validate.action` (/validate) instead of an HTTP error.
 * @param startedAt epoch ms when the request arrived; the deadline counts from it.
 */
export async function handleReview(webhook: Webhook, body: unknown, deps: AdmissionDeps, startedAt: number): Promise<ReviewOutcome> {
  const decoded = decode(body);
  if ('status' in decoded) return decoded;
  const request = decoded.request;
  let decided: Decided;
  let internalError: unknown;
  try {
    decided = webhook === 'mutate' ? await mutate(request, deps, startedAt) : validate(request, deps.config);
  } catch (error) {
    internalError = error;
    decided = failSafe(webhook, deps, request, error);
  }
  try {
    return answer(webhook, request, decided, deps.now ?? Date.now, startedAt, internalError);
  } catch (error) {
    // A bug while encoding the decision: answer the failure path, whose decision has nothing left to
    // encode wrongly, timed by the plain clock in case the injected one is what broke.
    return answer(webhook, request, failSafe(webhook, deps, request, error), Date.now, startedAt, error);
  }
}

/**
 * The answer for a review whose handling failed outside `handleReview` (a bug in the server around
 * it): the configured failure path for that request, or the 400 its body earns when it is no review.
 */
export function failedReview(webhook: Webhook, body: unknown, deps: AdmissionDeps, error: unknown, startedAt: number): ReviewOutcome {
  const decoded = decode(body);
  if ('status' in decoded) return decoded;
  return answer(webhook, decoded.request, failSafe(webhook, deps, decoded.request, error), Date.now, startedAt, error);
}

function decode(body: unknown): { readonly request: AdmissionRequest } | Extract<ReviewOutcome, { status: 400 }> {
  try {
    return { request: decodeReview(body) };
  } catch (error) {
    if (error instanceof InputError) return { status: 400, body: { error: error.message } };
    return { status: 400, body: { error: `not an AdmissionReview tagpin can read: ${describeError(error)}` } };
  }
}

function answer(webhook: Webhook, request: AdmissionRequest, decided: Decided, now: () => number, startedAt: number, internalError: unknown): ReviewOutcome {
  const audit: AuditEvent = {
    webhook,
    uid: request.uid,
    operation: request.operation,
    kind: request.kind,
    namespace: request.namespace,
    name: request.name,
    user: request.user,
    dryRun: request.dryRun,
    decision: decided.decision,
    durationMs: Math.max(0, now() - startedAt),
    images: decided.images,
  };
  const warnings = boundWarnings(decided.warnings);
  const response: AdmissionResponse = {
    uid: request.uid,
    allowed: decided.denial === undefined,
    ...(decided.patch.length > 0 ? { patchType: 'JSONPatch' as const, patch: encodePatch(decided.patch) } : {}),
    ...(warnings.length > 0 ? { warnings } : {}),
    auditAnnotations: auditAnnotations(audit),
    ...(decided.denial === undefined ? {} : { status: { code: 403, reason: 'Forbidden', message: decided.denial } }),
  };
  return {
    status: 200,
    body: encodeReview(request.apiVersion, response),
    audit,
    notes: decided.notes,
    ...(internalError === undefined ? {} : { internalError }),
  };
}

/**
 * The decision when tagpin itself failed: deny when configured to fail closed, else admit with a
 * warning. A TagpinError's message is for the user; a bug's is not, so it stays in the log.
 */
function failSafe(webhook: Webhook, deps: AdmissionDeps, request: AdmissionRequest, error: unknown): Decided {
  const closed = webhook === 'mutate' ? deps.config.resolve.onError === 'deny' : deps.config.validate.action === 'deny';
  const why = error instanceof TagpinError ? error.message : `an internal error, logged by tagpin with uid ${request.uid}`;
  const reason = `tagpin failed to process this request: ${why}`;
  if (!closed) return admitted([], [reason]);
  return { decision: 'denied', images: [], patch: [], warnings: [], denial: reason, notes: [] };
}
