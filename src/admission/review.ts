// AdmissionReview decoding and encoding (admission.k8s.io v1, and v1beta1 answered in kind).
import { InputError } from '../errors/index.ts';
import type { ReplaceOperation } from '../workload/index.ts';
import { isRecord } from '../json/index.ts';

/** AdmissionReview API versions tagpin accepts; the answer uses the version of the request. */
export const ADMISSION_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;
/** One of `ADMISSION_VERSIONS`. */
export type AdmissionVersion = (typeof ADMISSION_VERSIONS)[number];

const OPERATIONS = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] as const;
/** `request.operation`. */
export type Operation = (typeof OPERATIONS)[number];

/** The parts of `AdmissionReview.request` that tagpin reads, checked. */
export interface AdmissionRequest {
  readonly apiVersion: AdmissionVersion;
  readonly uid: string;
  /** `request.kind.kind`, e.g. `Deployment`. */
  readonly kind: string;
  /** `request.kind.group`, e.g. `apps` (`''` for the core group); undefined when the review leaves it out. */
  readonly group: string | undefined;
  /** `request.kind.version`, e.g. `v1`; undefined when the review leaves it out. */
  readonly version: string | undefined;
  /** `request.subResource`, e.g. `ephemeralcontainers`; empty for the main resource. */
  readonly subResource: string;
  readonly operation: Operation;
  readonly namespace: string;
  /** `request.name`, else `object.metadata.name`; empty on CREATE with generateName. */
  readonly name: string;
  /** `request.userInfo.username`. */
  readonly user: string;
  readonly dryRun: boolean;
  /** The object as admitted; a JSON object for CREATE and UPDATE, maybe null otherwise. */
  readonly object: unknown;
  /** The object before an UPDATE; null when absent. */
  readonly oldObject: unknown;
}

/** `AdmissionReview.response`. */
export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly patchType?: 'JSONPatch';
  /** base64 of the JSON Patch. */
  readonly patch?: string;
  readonly warnings?: readonly string[];
  readonly auditAnnotations?: Readonly<Record<string, string>>;
  readonly status?: { readonly code: number; readonly reason: string; readonly message: string };
}

/** A whole AdmissionReview answer. */
export interface AdmissionReviewResponse {
  readonly apiVersion: AdmissionVersion;
  readonly kind: 'AdmissionReview';
  readonly response: AdmissionResponse;
}

/**
 * Checks that `body` is an AdmissionReview with a usable request.
 * @throws InputError with one line naming the field and the rule it breaks
 */
export function decodeReview(body: unknown): AdmissionRequest {
  if (!isRecord(body)) throw new InputError('body is not an AdmissionReview: expected a JSON object');
  if (body['kind'] !== 'AdmissionReview') {
    throw new InputError(`body is not an AdmissionReview: kind must be "AdmissionReview" (got ${show(body['kind'])})`);
  }
  const apiVersion = body['apiVersion'];
  if (!isVersion(apiVersion)) {
    throw new InputError(`apiVersion must be one of ${ADMISSION_VERSIONS.join(', ')} (got ${show(apiVersion)})`);
  }
  const request = body['request'];
  if (!isRecord(request)) throw new InputError('request is missing: an AdmissionReview to answer needs request');

  const uid = request['uid'];
  if (uid === undefined || uid === null || uid === '') throw new InputError('request.uid is missing');
  if (typeof uid !== 'string') throw new InputError(`request.uid must be a string (got ${show(uid)})`);

  const kindObject = request['kind'];
  const kind = isRecord(kindObject) ? kindObject['kind'] : undefined;
  if (typeof kind !== 'string' || kind === '') {
    throw new InputError(`request.kind.kind is missing: expected the object's kind, e.g. {"kind":"Pod"}`);
  }

  const group = kindPart(kindObject, 'group');
  const version = kindPart(kindObject, 'version');

  const operation = request['operation'];
  if (!isOperation(operation)) {
    throw new InputError(`request.operation must be one of ${OPERATIONS.join(', ')} (got ${show(operation)})`);
  }

  const object = request['object'] ?? null;
  if ((operation === 'CREATE' || operation === 'UPDATE') && !isRecord(object)) {
    throw new InputError(
      object === null
        ? `request.object is missing (required for ${operation})`
        : `request.object must be a JSON object (got ${show(object)})`,
    );
  }

  const subResource = optionalString(request, 'subResource');
  const namespace = optionalString(request, 'namespace');
  const userInfo = request['userInfo'];
  const user = isRecord(userInfo) ? optionalString(userInfo, 'username', 'request.userInfo.username') : '';
  const dryRun = request['dryRun'];
  if (dryRun !== undefined && dryRun !== null && typeof dryRun !== 'boolean') {
    throw new InputError(`request.dryRun must be a boolean (got ${show(dryRun)})`);
  }
  const metadata = isRecord(object) ? object['metadata'] : undefined;
  const metadataName = isRecord(metadata) && typeof metadata['name'] === 'string' ? metadata['name'] : '';

  return {
    apiVersion,
    uid,
    kind,
    group,
    version,
    subResource,
    operation,
    namespace,
    name: optionalString(request, 'name') || metadataName,
    user,
    dryRun: dryRun === true,
    object,
    oldObject: request['oldObject'] ?? null,
  };
}

/** The answer to a review of version `apiVersion`. */
export function encodeReview(apiVersion: AdmissionVersion, response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion, kind: 'AdmissionReview', response };
}

/** The base64 JSON Patch for `operations`, as AdmissionResponse.patch expects. */
export function encodePatch(operations: readonly ReplaceOperation[]): string {
  return Buffer.from(JSON.stringify(operations), 'utf8').toString('base64');
}

/** True for a JSON object (not an array, not null). */

function isVersion(value: unknown): value is AdmissionVersion {
  return typeof value === 'string' && (ADMISSION_VERSIONS as readonly string[]).includes(value);
}

function isOperation(value: unknown): value is Operation {
  return typeof value === 'string' && (OPERATIONS as readonly string[]).includes(value);
}

/** `request.kind.group` or `.version`: a string, or undefined when absent. */
function kindPart(kindObject: unknown, key: 'group' | 'version'): string | undefined {
  const value = isRecord(kindObject) ? kindObject[key] : undefined;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new InputError(`request.kind.${key} must be a string (got ${show(value)})`);
  return value;
}

function optionalString(object: Readonly<Record<string, unknown>>, key: string, label = `request.${key}`): string {
  const value = object[key];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new InputError(`${label} must be a string (got ${show(value)})`);
  return value;
}

/** A short rendering of a value the client sent, for error messages. */
function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
