// AdmissionReviews as the API server sends them, the answers tagpin gives, and the fixture objects with their images.
import { readFileSync } from 'node:fs';
import { BUILT_IN_KINDS, PRESETS, splitApiVersion } from '../../src/workload/index.ts';
import type { ContentKind, TestRegistry } from './registry.ts';

/** The parts of an AdmissionReview answer tests look at. */
export interface AdmissionAnswer {
  readonly apiVersion: string;
  readonly kind: string;
  readonly response: {
    readonly uid: string;
    readonly allowed: boolean;
    readonly patchType?: string;
    readonly patch?: string;
    readonly warnings?: readonly string[];
    readonly auditAnnotations?: Readonly<Record<string, string>>;
    readonly status?: { readonly code: number; readonly reason: string; readonly message: string };
  };
}

/** An object from test/fixtures/objects (a fresh copy each call). */
export function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../fixtures/objects/${name}.json`, import.meta.url), 'utf8')) as Record<string, unknown>;
}

/** Fields of `admissionReview`. */
export interface ReviewFields {
  readonly uid?: string;
  readonly apiVersion?: string;
  readonly operation?: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  /** The object; its `kind` is used for request.kind unless `kind` is given. */
  readonly object?: unknown;
  readonly oldObject?: unknown;
  readonly kind?: string;
  readonly subResource?: string;
  readonly namespace?: string;
  readonly dryRun?: boolean;
  readonly user?: string;
}

let uidCounter = 0;

/** An AdmissionReview as the API server sends it, around `fields.object`. */
export function admissionReview(fields: ReviewFields): Record<string, unknown> {
  const object = fields.object as { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } } | undefined;
  const kind = fields.kind ?? object?.kind ?? 'Pod';
  const [group, version, resource] = groupVersionResource(kind, object?.apiVersion);
  const namespace = fields.namespace ?? object?.metadata?.namespace ?? 'demo';
  uidCounter += 1;
  return {
    apiVersion: fields.apiVersion ?? 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: fields.uid ?? `00000000-0000-4000-8000-${String(uidCounter).padStart(12, '0')}`,
      kind: { group, version, kind },
      resource: { group, version, resource },
      ...(fields.subResource === undefined ? {} : { subResource: fields.subResource }),
      requestKind: { group, version, kind },
      requestResource: { group, version, resource },
      name: object?.metadata?.name ?? '',
      namespace,
      operation: fields.operation ?? 'CREATE',
      userInfo: { username: fields.user ?? 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] },
      object: fields.object ?? null,
      oldObject: fields.oldObject ?? null,
      dryRun: fields.dryRun ?? false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: fields.operation === 'UPDATE' ? 'UpdateOptions' : 'CreateOptions' },
    },
  };
}

/**
 * What the API server says of a kind: a built-in kind's own group; else the object's apiVersion with
 * the resource of a preset of that group and kind, or `<kind>s`; `example.com/v1` without an apiVersion.
 */
function groupVersionResource(kind: string, apiVersion: string | undefined): readonly [string, string, string] {
  const builtIn = BUILT_IN_KINDS.find((k) => k.kind === kind);
  if (builtIn !== undefined) return [builtIn.apiGroup, 'v1', builtIn.resource];
  const { group, version } = apiVersion === undefined ? { group: 'example.com', version: 'v1' } : splitApiVersion(apiVersion);
  const preset = Object.values(PRESETS).flat().find((k) => k.apiGroup === group && k.kind === kind);
  return [group, version, preset?.resource ?? `${kind.toLowerCase()}s`];
}

/** The JSON Patch of an answer, decoded; empty when there is none. */
export function patchOf(answer: AdmissionAnswer): Array<{ op: string; path: string; value: unknown }> {
  if (answer.response.patch === undefined) return [];
  return JSON.parse(Buffer.from(answer.response.patch, 'base64').toString('utf8')) as Array<{ op: string; path: string; value: unknown }>;
}

/** The images of test/fixtures/objects, each with the repository, tag and content kind it is pushed as. */
export const FIXTURE_IMAGES: Readonly<Record<string, { readonly repository: string; readonly tag: string; readonly kind: ContentKind }>> = {
  'nginx:1.27': { repository: 'demo/nginx', tag: '1.27', kind: 'oci-index' },
  'busybox:1.36': { repository: 'demo/busybox', tag: '1.36', kind: 'docker-list' },
  'postgres:17': { repository: 'demo/postgres', tag: '17', kind: 'docker-manifest' },
  '127.0.0.1:5000/demo/app:v1': { repository: 'demo/app', tag: 'v1', kind: 'oci-manifest' },
  '127.0.0.1:5000/demo/models:v1': { repository: 'demo/models', tag: 'v1', kind: 'oci-manifest' },
};

/** Fixture images moved to `registry`: what each image becomes there, and its digest as the registry reports it. */
export interface LocalImages {
  /** Fixture image → the same image on the test registry (`127.0.0.1:PORT/demo/nginx:1.27`). */
  readonly moved: ReadonlyMap<string, string>;
  /** Image on the test registry → the digest the registry reported when it was pushed. */
  readonly digests: ReadonlyMap<string, string>;
  /** A fixture with every image moved to the test registry. */
  object(name: string): Record<string, unknown>;
}

/** Pushes every fixture image to `registry` and returns how to rewrite fixtures to use them. */
export async function pushFixtureImages(registry: TestRegistry): Promise<LocalImages> {
  const moved = new Map<string, string>();
  const digests = new Map<string, string>();
  for (const [image, { repository, tag, kind }] of Object.entries(FIXTURE_IMAGES)) {
    const local = `${registry.host}/${repository}:${tag}`;
    moved.set(image, local);
    digests.set(local, await registry.push(repository, tag, kind));
  }
  return { moved, digests, object: (name) => replaceStrings(fixture(name), moved) };
}

/** A deep copy of `value` in which every string found in `map` is replaced by its value. */
export function replaceStrings<T>(value: T, map: ReadonlyMap<string, string>): T {
  return JSON.parse(JSON.stringify(value), (_key, v: unknown) => (typeof v === 'string' ? (map.get(v) ?? v) : v)) as T;
}
