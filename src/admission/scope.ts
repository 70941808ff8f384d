// Which image fields of a request the webhooks act on, and which an UPDATE leaves as they were.
import type { Config } from '../config/index.ts';
import { isNamespaceExcluded } from '../policy/index.ts';
import { getAtPointer, listImages, workloadKinds } from '../workload/index.ts';
import type { ImageField, WorkloadKind } from '../workload/index.ts';
import type { AdmissionRequest } from './review.ts';

/** An image field with what the old object held at the same path. */
export interface ScopedField {
  readonly field: ImageField;
  /** Value at the same path in `oldObject` (UPDATE only); undefined when there is none. */
  readonly old: unknown;
  /** Set when the request does not change this field, so the webhooks leave it alone. */
  readonly unchanged?: string;
}

const EPHEMERAL_SUBRESOURCE = 'ephemeralcontainers';

/**
 * What both webhooks do before looking at images: `untouched` for operations and kinds tagpin does
 * not read (with a warning for the kind), `excluded` for a namespace in `exclude.namespaces`, and
 * undefined for a request to judge. The one place the namespace exclusion is checked for admission.
 */
export function gate(
  request: AdmissionRequest,
  config: Config,
): { readonly admit: 'untouched'; readonly warnings: readonly string[] } | { readonly admit: 'excluded'; readonly reason: string } | undefined {
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return { admit: 'untouched', warnings: [] };
  if (workloadOf(request, config) === undefined) {
    const named = request.group === undefined || request.group === '' ? request.kind : `${request.kind}.${request.group}`;
    return { admit: 'untouched', warnings: [`tagpin does not read images of kind ${named}; admitted unchanged`] };
  }
  if (isNamespaceExcluded(request.namespace, config.exclude)) return { admit: 'excluded', reason: `namespace ${request.namespace} is excluded` };
  return undefined;
}

/** The kind of the request's object among those the config walks (built-in and `workloads`); undefined for any other. */
export function workloadOf(request: AdmissionRequest, config: Config): WorkloadKind | undefined {
  return workloadKinds(config.workloads).find(request.group, request.version, request.kind);
}

/**
 * The image fields of the request's object, of a kind `gate` let through. Empty strings are skipped:
 * workload templates may leave `image` empty for a controller to fill in, and the API server rejects
 * empty Pod images itself.
 */
export function scopeFields(request: AdmissionRequest, config: Config): readonly ScopedField[] {
  const kind = workloadOf(request, config);
  if (kind === undefined) return [];
  const fields = listImages(kind, request.object).filter((f) => f.value !== '');
  const isUpdate = request.operation === 'UPDATE' && request.oldObject !== null;
  const ephemeral = request.subResource === EPHEMERAL_SUBRESOURCE;
  const oldEphemeralNames = ephemeral ? ephemeralNames(kind, request.oldObject) : new Set<string>();

  return fields.map((field): ScopedField => {
    const old = isUpdate ? getAtPointer(request.oldObject, field.path) : undefined;
    if (ephemeral) {
      // The subresource can only add ephemeral containers; existing ones cannot be changed.
      const isNew = field.slot === 'ephemeralContainers' && field.name !== undefined && !oldEphemeralNames.has(field.name);
      return isNew ? { field, old } : { field, old, unchanged: 'not a new ephemeral container' };
    }
    if (isUpdate && old === field.value) return { field, old, unchanged: 'image not changed by this update' };
    return { field, old };
  });
}

function ephemeralNames(kind: WorkloadKind, oldObject: unknown): ReadonlySet<string> {
  if (oldObject === null) return new Set();
  const names = listImages(kind, oldObject)
    .filter((f) => f.slot === 'ephemeralContainers')
    .map((f) => f.name)
    .filter((n): n is string => n !== undefined);
  return new Set(names);
}

/** Renders an image value for messages and audit records: strings as written, anything else as JSON. */
export function showImage(value: unknown): string {
  if (typeof value === 'string') return value;
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // Nested deeper than JSON.stringify can recurse: the shape is all a message needs.
    text = Array.isArray(value) ? '[…]' : '{…}';
  }
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}
