// /mutate: pins every image tag of a request to its digest, within the lookup deadline.
import type { AuditImage } from '../audit/index.ts';
import type { Config } from '../config/index.ts';
import { mergeKeyrings } from '../credentials/index.ts';
import { RegistryError, RegistryErrorCode, describeError } from '../errors/index.ts';
import { planMutation } from '../policy/index.ts';
import { formatPinned, parseReference } from '../reference/index.ts';
import type { ImageReference } from '../reference/index.ts';
import type { Keyring, ResolvedImage } from './ports.ts';
import { knownToAll, resolveAll } from './resolve.ts';
import { podSpecOf, replaceImage } from '../workload/index.ts';
import type { ReplaceOperation } from '../workload/index.ts';
import { beforeDeadline } from '../deadline/index.ts';
import { admitted, plural, type Decided } from './decided.ts';
import type { AdmissionRequest } from './review.ts';
import { gate, scopeFields, showImage, workloadOf, type ScopedField } from './scope.ts';
import type { AdmissionDeps } from './types.ts';

/**
 * Why lookups still running after the answer are cancelled. Made once: `abort()` without a reason
 * builds a DOMException with a stack trace on every admission, a large share of a cached one.
 */
const ANSWERED = new DOMException('the admission was answered', 'AbortError');

/** One image field that needs a lookup. */
interface Lookup {
  readonly scoped: ScopedField;
  readonly ref: ImageReference;
}

/** An image that could not be pinned, for the denial message or the warnings. */
interface Failure {
  readonly path: string;
  readonly image: string;
  readonly reason: string;
}

/**
 * Decides a /mutate request. Never rejects for a lookup problem: each becomes a per-image reason,
 * and `resolve.onError` turns them into a denial or a warned admission.
 * @param startedAt epoch ms when the request arrived; the lookups end by `startedAt + resolve.timeoutMs`.
 */
export async function mutate(request: AdmissionRequest, deps: AdmissionDeps, startedAt: number): Promise<Decided> {
  const { config } = deps;
  const gated = gate(request, config);
  if (gated?.admit === 'untouched') return admitted([], gated.warnings);
  const scoped = scopeFields(request, config);
  const skipAll = gated?.reason ?? skipReason(request, config);
  if (skipAll !== undefined) return admitted(scoped.map((s) => record(s, { verdict: 'excluded', reason: skipAll })));

  const inScope = scoped.filter((s) => s.unchanged === undefined);
  const steps = new Map(planMutation(inScope.map((s) => s.field), config).map((step) => [step.field.path, step]));

  const images = new Map<string, AuditImage>();
  const patch: ReplaceOperation[] = [];
  const invalid: Failure[] = [];
  const lookups: Lookup[] = [];
  for (const s of scoped) {
    const path = s.field.path;
    const step = steps.get(path);
    if (s.unchanged !== undefined || step === undefined) {
      images.set(path, record(s, { verdict: 'unchanged', reason: s.unchanged ?? 'not in scope' }));
    } else if (step.action === 'excluded') {
      images.set(path, record(s, { verdict: 'excluded', reason: step.reason ?? 'excluded' }));
    } else if (step.action === 'keep') {
      images.set(path, record(s, { verdict: 'ok', reason: 'already has a digest' }));
    } else if (step.action === 'invalid' || step.ref === undefined) {
      const reason = step.reason ?? 'not a valid image reference';
      images.set(path, record(s, { verdict: 'invalid', reason }));
      invalid.push({ path, image: showImage(s.field.value), reason });
    } else {
      const kept = keptPinnedValue(s.old, step.ref.original);
      if (kept === undefined) {
        lookups.push({ scoped: s, ref: step.ref });
      } else {
        patch.push(replaceImage(path, kept));
        images.set(path, record(s, { verdict: 'kept', pinned: kept, reason: 'kept the digest pinned in the old object' }));
      }
    }
  }

  const { results, warnings: credentialWarnings, notes } = await lookUp(request, deps, lookups, startedAt);
  const failed: Failure[] = [];
  for (const { scoped: s, ref } of lookups) {
    const result = results.get(ref.original);
    const path = s.field.path;
    if (result !== undefined && !(result instanceof Error)) {
      const pinned = formatPinned(ref, result.digest, config.mutate.output);
      if (pinned !== ref.original) patch.push(replaceImage(path, pinned));
      images.set(path, record(s, { verdict: 'pinned', pinned }));
    } else {
      const error = result ?? timeoutError(ref, config.resolve.timeoutMs);
      deps.observer?.onResolveError?.({ registry: error.registry ?? ref.registry, code: error.code });
      const reason = withRegistry(describeError(error), error.registry ?? ref.registry);
      images.set(path, record(s, { verdict: 'failed', reason }));
      failed.push({ path, image: ref.original, reason });
    }
  }

  const ordered = scoped.map((s) => images.get(s.field.path)).filter((i): i is AuditImage => i !== undefined);
  const order = new Map(scoped.map((s, index) => [s.field.path, index]));
  const denied = (config.resolve.onError === 'deny' ? [...invalid, ...failed] : invalid).sort(
    (a, b) => (order.get(a.path) ?? 0) - (order.get(b.path) ?? 0),
  );
  if (denied.length > 0) {
    return {
      decision: 'denied',
      images: ordered,
      patch: [],
      warnings: credentialWarnings,
      denial: `tagpin could not pin ${plural(denied.length, 'image')}: ${denied.map(describeFailure).join('; ')}`,
      notes,
    };
  }
  // onError: allow — admitted, but loudly: a warning per image left unpinned, besides the audit record and metric.
  const warnings = [
    // Kept short for the 120-character limit: the path and the full reason are in the audit record.
    ...failed.map((f) => `${f.image} not pinned: ${f.reason}`),
    ...credentialWarnings,
  ];
  const decision = patch.length > 0 ? 'patched' : warnings.length > 0 ? 'warned' : 'allowed';
  return { decision, images: ordered, patch, warnings, notes };
}

/** Why the whole object is left alone, or undefined when it is mutated. */
function skipReason(request: AdmissionRequest, config: Config): string | undefined {
  if (!config.mutate.enabled) return 'mutate.enabled is false';
  if (!config.mutate.kinds.includes(request.kind)) return `kind ${request.kind} is not in mutate.kinds`;
  return undefined;
}

/**
 * The UPDATE rule: when the old object holds, at the same path, exactly the new value followed by
 * `@digest` (`nginx:1.27` was pinned as `nginx:1.27@sha256:…`), that pinned value is kept without a
 * lookup, so re-applying a manifest neither moves the digest nor changes an immutable Job template.
 */
export function keptPinnedValue(old: unknown, image: string): string | undefined {
  if (typeof old !== 'string' || !old.startsWith(`${image}@`)) return undefined;
  try {
    const ref = parseReference(old);
    return ref.digest !== undefined && old === `${image}@${ref.digest}` ? old : undefined;
  } catch {
    return undefined;
  }
}

/** Resolves the distinct references of `lookups` with the pod's credentials, by the deadline. */
async function lookUp(
  request: AdmissionRequest,
  deps: AdmissionDeps,
  lookups: readonly Lookup[],
  startedAt: number,
): Promise<{
  readonly results: ReadonlyMap<string, ResolvedImage | RegistryError>;
  readonly warnings: readonly string[];
  readonly notes: readonly string[];
}> {
  if (lookups.length === 0) return { results: new Map(), warnings: [], notes: [] };
  const now = deps.now ?? Date.now;
  const { timeoutMs } = deps.config.resolve;
  // The answer must leave by startedAt + timeoutMs; lookups stop a little earlier to leave room for it.
  const responseDeadline = startedAt + timeoutMs;
  const lookupDeadline = responseDeadline - Math.min(100, Math.floor(timeoutMs / 10));

  const refs = [...new Map(lookups.map((l) => [l.ref.original, l.ref])).values()];
  // The warm path: digests that serve anyone need neither the pod's pull secrets nor a deadline.
  const known = knownToAll(deps.resolver, refs);
  if (known !== undefined) return { results: known, warnings: [], notes: [] };
  const { keyring, warnings } = await pullCredentials(request, deps, startedAt, lookupDeadline);
  const abort = new AbortController();
  try {
    const results = await beforeDeadline(
      resolveAll(deps.resolver, refs, { deadline: lookupDeadline, keyring, signal: abort.signal }),
      responseDeadline,
      () => new Map<string, ResolvedImage | RegistryError>(),
      now,
    );
    return { results, warnings, notes: warnings };
  } finally {
    // Whatever is still in flight after the answer is of no use to anyone.
    abort.abort(ANSWERED);
  }
}

/** The configured docker config merged with the pod's pull secrets; never slower than its share of the budget. */
async function pullCredentials(
  request: AdmissionRequest,
  deps: AdmissionDeps,
  startedAt: number,
  lookupDeadline: number,
): Promise<{ readonly keyring: Keyring; readonly warnings: readonly string[] }> {
  const source = deps.credentials;
  if (source === undefined) return { keyring: deps.keyring, warnings: [] };
  const now = deps.now ?? Date.now;
  // A quarter of the budget for the Kubernetes API, so a slow API still leaves time for the registries.
  const deadline = Math.min(lookupDeadline, startedAt + Math.floor(deps.config.resolve.timeoutMs / 4));
  const pod = podSpecOf(workloadOf(request, deps.config) ?? request.kind, request.object);
  const found = await beforeDeadline(
    source.keyringFor({
      namespace: request.namespace,
      serviceAccountName: pod.serviceAccountName,
      imagePullSecrets: pod.imagePullSecrets,
      deadline,
    }),
    deadline + 20,
    () => ({ keyring: deps.keyring, warnings: ['pull secrets not read in time; resolving without them'] }),
    now,
  );
  for (const warning of found.warnings) deps.observer?.onCredentialWarning?.(warning);
  // The pod's own credentials first: they are the ones kubelet would use for this pod.
  return { keyring: mergeKeyrings(found.keyring, deps.keyring), warnings: found.warnings };
}

function timeoutError(ref: ImageReference, timeoutMs: number): RegistryError {
  return new RegistryError(
    RegistryErrorCode.timeout,
    `${ref.original}: no answer from ${ref.registry} within resolve.timeoutMs (${String(timeoutMs)} ms)`,
    { image: ref.original, registry: ref.registry },
  );
}

function withRegistry(reason: string, registry: string): string {
  return reason.includes(registry) ? reason : `${reason} (registry ${registry})`;
}

function describeFailure(failure: Failure): string {
  return `${failure.path} ${JSON.stringify(failure.image)}: ${failure.reason}`;
}

function record(s: ScopedField, outcome: Omit<AuditImage, 'path' | 'image'>): AuditImage {
  return { path: s.field.path, image: showImage(s.field.value), ...outcome };
}
