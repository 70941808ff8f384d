// Generated and mutated AdmissionReview bodies, and the property every answer of a running `tagpin serve` must satisfy.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { TagpinServer } from '../support/serve.ts';

/** One generated request: the raw body, where it goes, and what the generator knows about it. */
export interface FuzzCase {
  readonly webhook: 'mutate' | 'validate';
  readonly body: string | Buffer;
  /** Which generator made it (reported in counts). */
  readonly shape: string;
  /** The body is a well-formed review of a supported kind: it must be answered with 200. */
  readonly wellFormed: boolean;
}

/** Images the generators draw from, for a registry at `host` that holds `demo/app:v1`. */
function imagePool(host: string): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(`${host}/demo/app:v1`, `${host}/demo/app:missing`, `${host}/demo/app@sha256:${'a'.repeat(64)}`, `${host}/demo/app:v1@sha256:${'b'.repeat(64)}`, 'nginx:1.27', 'nginx', 'nginx:latest', '', `${host}/Demo/App:v1`, 'a'.repeat(300)) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  );
}

const KINDS = ['Pod', 'PodTemplate', 'ReplicationController', 'ReplicaSet', 'Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'] as const;
const OPERATIONS = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] as const;
const VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;

/** Wraps a pod spec where `kind` keeps it. */
function objectOf(kind: string, spec: unknown, name: string, namespace: string): Record<string, unknown> {
  const metadata = { name, namespace };
  switch (kind) {
    case 'Pod':
      return { apiVersion: 'v1', kind, metadata, spec };
    case 'PodTemplate':
      return { apiVersion: 'v1', kind, metadata, template: { spec } };
    case 'CronJob':
      return { apiVersion: 'batch/v1', kind, metadata, spec: { schedule: '* * * * *', jobTemplate: { spec: { template: { spec } } } } };
    default:
      return { apiVersion: 'apps/v1', kind, metadata, spec: { template: { spec } } };
  }
}

function podSpec(images: fc.Arbitrary<unknown>, maxContainers: number): fc.Arbitrary<Record<string, unknown>> {
  const container = fc.record({ name: fc.string({ maxLength: 8 }), image: images }, { requiredKeys: ['image'] });
  return fc.record(
    {
      containers: fc.array(container, { minLength: 1, maxLength: maxContainers }),
      initContainers: fc.array(container, { maxLength: 2 }),
      ephemeralContainers: fc.array(container, { maxLength: 2 }),
      volumes: fc.array(fc.record({ name: fc.string({ maxLength: 8 }), image: fc.record({ reference: images }) }), { maxLength: 2 }),
      serviceAccountName: fc.string({ maxLength: 10 }),
      imagePullSecrets: fc.array(fc.record({ name: fc.string({ maxLength: 10 }) }), { maxLength: 2 }),
    },
    { requiredKeys: ['containers'] },
  );
}

/** A review the API server could send: every field of the right type, images drawn from the pool. */
function wellFormedReview(host: string): fc.Arbitrary<Record<string, unknown>> {
  const images = imagePool(host);
  return fc
    .record({
      apiVersion: fc.constantFrom(...VERSIONS),
      uid: fc.oneof(fc.uuid(), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 })),
      kind: fc.constantFrom(...KINDS),
      operation: fc.constantFrom(...OPERATIONS),
      namespace: fc.oneof(fc.constantFrom('demo', 'kube-system', ''), fc.string({ unit: 'grapheme', maxLength: 20 })),
      name: fc.string({ maxLength: 20 }),
      subResource: fc.constantFrom(undefined, '', 'ephemeralcontainers', 'status'),
      dryRun: fc.boolean(),
      spec: podSpec(images, 4),
      oldSpec: fc.option(podSpec(images, 3)),
      user: fc.string({ unit: 'grapheme', maxLength: 20 }),
    })
    .map((r) => {
      const object = objectOf(r.kind, r.spec, r.name, r.namespace);
      const operation = r.operation;
      const needsObject = operation === 'CREATE' || operation === 'UPDATE';
      return {
        apiVersion: r.apiVersion,
        kind: 'AdmissionReview',
        request: {
          uid: r.uid,
          kind: { group: '', version: 'v1', kind: r.kind },
          resource: { group: '', version: 'v1', resource: `${r.kind.toLowerCase()}s` },
          ...(r.subResource === undefined ? {} : { subResource: r.subResource }),
          name: r.name,
          namespace: r.namespace,
          operation,
          userInfo: { username: r.user, groups: ['system:authenticated'] },
          object: needsObject ? object : null,
          oldObject: operation === 'UPDATE' && r.oldSpec !== null ? objectOf(r.kind, r.oldSpec, r.name, r.namespace) : null,
          dryRun: r.dryRun,
        },
      };
    });
}

/** Anything JSON, or a review with some fields replaced by values of the wrong type. */
function wrongTypes(host: string): fc.Arbitrary<unknown> {
  const junk = fc.jsonValue({ maxDepth: 3 });
  return fc.oneof(
    junk,
    fc.tuple(wellFormedReview(host), fc.array(fc.tuple(fc.constantFrom('apiVersion', 'kind', 'request', 'request.uid', 'request.kind', 'request.kind.kind', 'request.operation', 'request.object', 'request.object.spec', 'request.namespace', 'request.userInfo', 'request.dryRun', 'request.oldObject', 'request.subResource', 'request.object.metadata'), junk), { minLength: 1, maxLength: 3 })).map(([review, edits]) => {
      const copy = structuredClone(review);
      for (const [path, value] of edits) setPath(copy, path.split('.'), value);
      return copy;
    }),
  );
}

function setPath(target: Record<string, unknown>, keys: readonly string[], value: unknown): void {
  let node: unknown = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node !== 'object' || node === null) return;
    node = (node as Record<string, unknown>)[key];
  }
  if (typeof node === 'object' && node !== null) (node as Record<string, unknown>)[keys[keys.length - 1] ?? ''] = value;
}

/** JSON text with duplicate keys: at some objects, the first key appears twice (a decoy before or after). */
function serializeWithDuplicates(value: unknown, decoys: ReadonlyArray<readonly [number, unknown, boolean]>): string {
  let objectIndex = 0;
  const emit = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(emit).join(',')}]`;
    if (typeof v !== 'object' || v === null) return JSON.stringify(v) ?? 'null';
    const entries = Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${emit(x)}`);
    const keys = Object.keys(v);
    const here = objectIndex++;
    for (const [at, decoy, after] of decoys) {
      if (at % 16 !== here || keys[0] === undefined) continue;
      const extra = `${JSON.stringify(keys[0])}:${JSON.stringify(decoy) ?? 'null'}`;
      if (after) entries.push(extra);
      else entries.unshift(extra);
    }
    return `{${entries.join(',')}}`;
  };
  return emit(value);
}

/** Byte-level edits of a valid review's text: most break the JSON, some only change a value. */
function mutatedText(host: string): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.constantFrom('insert', 'delete', 'replace'), fc.nat(), fc.constantFrom(...'{}[]":,\\ 0aZ\u00e9\u2028\ud83d\u0000'));
  return fc.tuple(wellFormedReview(host), fc.array(edit, { minLength: 1, maxLength: 4 })).map(([review, edits]) =>
    edits.reduce((text, [kind, at, c]) => {
      const i = at % Math.max(1, text.length);
      if (kind === 'insert') return text.slice(0, i) + c + text.slice(i);
      if (kind === 'delete') return text.slice(0, i) + text.slice(i + 1);
      return text.slice(0, i) + c + text.slice(i + 1);
    }, JSON.stringify(review)),
  );
}

/** A review with an array or object nested `depth` levels deep at one field. */
function deeplyNested(host: string): fc.Arbitrary<string> {
  return fc
    .tuple(wellFormedReview(host), fc.integer({ min: 50, max: 20_000 }), fc.constantFrom('image', 'kind', 'operation', 'uid', 'object', 'containers', 'body'), fc.boolean())
    .map(([review, depth, where, arrays]) => {
      const nested = arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      const marker = '"__NESTED__"';
      const copy = structuredClone(review) as { request: Record<string, unknown> };
      const spec = findSpec(copy.request['object']);
      switch (where) {
        case 'body':
          return nested;
        case 'image':
          if (spec !== undefined) (spec['containers'] as Array<Record<string, unknown>>)[0] = { name: 'deep', image: '__NESTED__' };
          break;
        case 'containers':
          if (spec !== undefined) spec['containers'] = '__NESTED__';
          break;
        case 'object':
          copy.request['object'] = '__NESTED__';
          break;
        default:
          copy.request[where] = '__NESTED__';
      }
      return JSON.stringify(copy).replace(marker, nested);
    });
}

/** The pod spec inside a generated object, wherever its kind keeps it. */
function findSpec(object: unknown): Record<string, unknown> | undefined {
  let node = object as Record<string, unknown> | null | undefined;
  for (let depth = 0; depth < 8 && node !== null && node !== undefined; depth++) {
    if (Array.isArray(node['containers'])) return node;
    node = (node['spec'] ?? node['template'] ?? node['jobTemplate']) as Record<string, unknown> | undefined;
  }
  return undefined;
}

/** A review with a huge array of containers (some bodies pass 3 MiB, which must be a 413). */
function hugeArray(host: string): fc.Arbitrary<{ readonly text: string; readonly wellFormed: boolean }> {
  return fc
    .tuple(wellFormedReview(host), fc.integer({ min: 1_000, max: 60_000 }), fc.constantFrom(`${host}/demo/app:v1`, 'nginx', 7, null, ''), fc.constantFrom('containers', 'volumes', 'imagePullSecrets'))
    .map(([review, count, image, where]) => {
      const copy = structuredClone(review) as { request: Record<string, unknown> };
      const spec = findSpec(copy.request['object']);
      if (spec !== undefined) {
        spec[where] = where === 'containers'
          ? Array.from({ length: count }, (_, i) => ({ name: `c${String(i)}`, image }))
          : Array.from({ length: count }, (_, i) => ({ name: `v${String(i)}`, image: { reference: image } }));
      }
      return { text: JSON.stringify(copy), wellFormed: false };
    });
}

/**
 * Every kind of body the fuzzer sends, to `/mutate` or `/validate`. Shapes are weighted so a short
 * run still reaches each; `wellFormed` marks bodies that must earn a 200.
 */
export function fuzzCases(host: string): fc.Arbitrary<FuzzCase> {
  const webhook = fc.constantFrom('mutate' as const, 'validate' as const);
  const shaped = (shape: string, body: fc.Arbitrary<string | Buffer>, wellFormed = false): fc.Arbitrary<FuzzCase> =>
    fc.tuple(webhook, body).map(([w, b]) => ({ webhook: w, body: b, shape, wellFormed }));
  return fc.oneof(
    { weight: 6, arbitrary: shaped('well-formed', wellFormedReview(host).map((r) => JSON.stringify(r)), true) },
    { weight: 4, arbitrary: shaped('wrong types', wrongTypes(host).map((v) => JSON.stringify(v) ?? 'null')) },
    { weight: 2, arbitrary: shaped('random JSON', fc.jsonValue().map((v) => JSON.stringify(v))) },
    { weight: 1, arbitrary: shaped('random unicode text', fc.string({ unit: 'binary', maxLength: 200 })) },
    { weight: 1, arbitrary: shaped('random bytes', fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a))) },
    { weight: 3, arbitrary: shaped('mutated text', mutatedText(host)) },
    { weight: 2, arbitrary: shaped('duplicate keys', fc.tuple(wellFormedReview(host), fc.array(fc.tuple(fc.nat(), fc.jsonValue({ maxDepth: 1 }), fc.boolean()), { minLength: 1, maxLength: 4 })).map(([r, d]) => serializeWithDuplicates(r, d))) },
    { weight: 1, arbitrary: shaped('deep nesting', deeplyNested(host)) },
    { weight: 1, arbitrary: fc.tuple(webhook, hugeArray(host)).map(([w, h]) => ({ webhook: w, body: h.text, shape: 'huge array', wellFormed: h.wellFormed })) },
  );
}

/** What the server answered, as the property judges it. */
export interface FuzzVerdict {
  readonly status: number;
}

/**
 * Sends `c` and checks the contract: HTTP 200 with a valid AdmissionReview echoing the uid (and, for
 * a patch, `replace` operations on image fields only, each appending a digest to the value there), or
 * 400 / 413 with `{"error": string}`. Never anything else.
 */
export async function checkCase(server: TagpinServer, c: FuzzCase): Promise<FuzzVerdict> {
  const answer = await server.post(`/${c.webhook}`, c.body, { 'content-type': 'application/json' });
  const sent = parse(c.body);
  assert.ok([200, 400, 413].includes(answer.status), `HTTP ${String(answer.status)} for ${c.shape}: ${answer.text.slice(0, 300)}`);
  if (c.wellFormed) assert.equal(answer.status, 200, `a well-formed review earned ${String(answer.status)}: ${answer.text.slice(0, 300)}`);
  if (answer.status !== 200) {
    const error = (answer.json as { error?: unknown } | undefined)?.error;
    assert.equal(typeof error, 'string', `HTTP ${String(answer.status)} without {"error": string}: ${answer.text.slice(0, 300)}`);
    return { status: answer.status };
  }

  const review = answer.json as { apiVersion?: unknown; kind?: unknown; response?: Record<string, unknown> } | undefined;
  const request = (sent as { request?: { uid?: unknown; object?: unknown } } | undefined)?.request;
  assert.ok(review !== undefined && review.kind === 'AdmissionReview', `not an AdmissionReview: ${answer.text.slice(0, 300)}`);
  assert.equal(review.apiVersion, (sent as { apiVersion?: unknown }).apiVersion, 'answered in the version asked');
  const response = review.response ?? {};
  assert.equal(response['uid'], request?.uid, 'uid echoed');
  assert.equal(typeof response['allowed'], 'boolean');
  if (response['allowed'] === false) {
    const status = response['status'] as { code?: unknown; message?: unknown } | undefined;
    assert.equal(status?.code, 403);
    assert.equal(typeof status?.message, 'string');
  }
  if (response['patch'] !== undefined) {
    assert.equal(c.webhook, 'mutate', '/validate never patches');
    assert.equal(response['patchType'], 'JSONPatch');
    const patch = JSON.parse(Buffer.from(String(response['patch']), 'base64').toString('utf8')) as Array<{ op: string; path: string; value: unknown }>;
    assert.ok(Array.isArray(patch) && patch.length > 0);
    for (const op of patch) {
      assert.equal(op.op, 'replace');
      assert.match(op.path, /\/(image|image\/reference)$/);
      const before = pointer(request?.object, op.path);
      assert.equal(typeof before, 'string', `patched ${op.path}, which held no string`);
      assert.ok(typeof op.value === 'string' && op.value.startsWith(`${String(before)}@sha256:`), `${op.path}: ${String(before)} → ${String(op.value)}`);
    }
  }
  for (const warning of (response['warnings'] as unknown[] | undefined) ?? []) {
    assert.ok(typeof warning === 'string' && warning.length <= 120, `warning too long: ${String(warning)}`);
  }
  return { status: 200 };
}

/** The body as the server reads it: UTF-8 on the wire, so a lone surrogate arrives as U+FFFD. */
function parse(body: string | Buffer): unknown {
  try {
    return JSON.parse((typeof body === 'string' ? Buffer.from(body, 'utf8') : body).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** RFC 6901 lookup. */
function pointer(document: unknown, path: string): unknown {
  let node = document;
  for (const raw of path.split('/').slice(1)) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** The part of a `tagpin serve` config the fuzzer needs: only `host` is ever contacted. */
export function fuzzConfig(host: string): Record<string, unknown> {
  return {
    registries: { insecure: [host], allow: [host] },
    resolve: { timeoutMs: 2000, onError: 'deny' },
  };
}
