// Objects for the e2e scenarios and the checks made on what the API server stored.
import assert from 'node:assert/strict';
import { fixture, FIXTURE_IMAGES, replaceStrings } from '../../support/serve.ts';
import type { TestRegistry } from '../../support/registry.ts';
import type { Json } from './kubectl.ts';

/** Fixture images pushed to a registry: their names there and the digests the registry reported. */
export interface PushedImages {
  /** Fixture image → image on the registry (`127.0.0.1:PORT/demo/nginx:1.27`). */
  readonly moved: ReadonlyMap<string, string>;
  /** Image on the registry → the same image pinned as tag-digest output writes it, with the registry's digest. */
  readonly pinned: ReadonlyMap<string, string>;
}

/** Pushes every fixture image to `registry`. */
export async function pushImages(registry: TestRegistry): Promise<PushedImages> {
  const moved = new Map<string, string>();
  const pinned = new Map<string, string>();
  for (const [image, { repository, tag, kind }] of Object.entries(FIXTURE_IMAGES)) {
    const local = `${registry.host}/${repository}:${tag}`;
    moved.set(image, local);
    pinned.set(local, `${local}@${await registry.push(repository, tag, kind)}`);
  }
  return { moved, pinned };
}

/** A fixture of test/fixtures/objects moved into `namespace`, with its images on the test registry. */
export function fixtureIn(name: string, namespace: string, images: PushedImages): Json {
  const object = replaceStrings(fixture(name), images.moved) as Json;
  (object['metadata'] as Json)['namespace'] = namespace;
  delete object['status'];
  return withoutNulls(object) as Json;
}

/** `kubectl create --dry-run -o json` writes `creationTimestamp: null`; the API server stores no nulls. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value as Json).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]));
}

/** The ServiceAccount admission plugin adds this projected token volume (and its mounts) to every Pod. */
const SERVICE_ACCOUNT_VOLUME = /^kube-api-access-[a-z0-9]+$/;

/** Every string value under a key named `image` or `reference` (image volumes), with its JSON pointer. */
export function imageFields(value: unknown, pointer = ''): Array<{ readonly path: string; readonly image: string }> {
  if (Array.isArray(value)) return value.flatMap((item, i) => imageFields(item, `${pointer}/${String(i)}`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value as Json).flatMap(([key, item]) => {
    const path = `${pointer}/${key}`;
    if (typeof item === 'string' && (key === 'image' || (key === 'reference' && pointer.endsWith('/image')))) return [{ path, image: item }];
    return imageFields(item, path);
  });
}

/**
 * Asserts that `stored` holds everything `sent` had, with each image replaced by `pinned`'s value
 * and nothing else changed. Fields the API server adds (defaults, metadata) are allowed; a changed
 * or dropped field is not; the only items the API server may add to a list are its ServiceAccount
 * token volume and mounts.
 */
export function assertPinnedCopy(stored: Json, sent: Json, pinned: ReadonlyMap<string, string>, where = ''): void {
  const expected = replaceStrings(sent, pinned);
  assertContains(stored, expected, where);
  for (const { path, image } of imageFields(stored)) {
    assert.match(image, /@sha256:[0-9a-f]{64}$/, `${where}${path}: stored image ${image} is not pinned`);
  }
}

function assertContains(actual: unknown, expected: unknown, path: string): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected an array, stored ${JSON.stringify(actual)}`);
    const items = path.endsWith('/volumes') || path.endsWith('/volumeMounts')
      ? actual.filter((item: unknown) => !SERVICE_ACCOUNT_VOLUME.test(String((item as Json | null)?.['name'])))
      : actual;
    assert.equal(items.length, expected.length, `${path}: array length`);
    expected.forEach((item, i) => {
      assertContains(items[i], item, `${path}/${String(i)}`);
    });
    return;
  }
  if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object' && !Array.isArray(actual), `${path}: expected an object, stored ${JSON.stringify(actual)}`);
    for (const [key, item] of Object.entries(expected)) assertContains((actual as Json)[key], item, `${path}/${key}`);
    return;
  }
  assert.deepEqual(actual, expected, `${path}: stored value`);
}

/** A one-container Pod running `image` in `namespace`; `spec` adds fields (imagePullSecrets). */
export function pod(name: string, namespace: string, image: string, spec: Json = {}): Json {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, spec: { containers: [{ name: 'app', image }], ...spec } };
}

/** The images of a stored object's `spec.containers`, in order. */
export function containerImages(object: Json | undefined): string[] {
  return (((object?.['spec'] as Json | undefined)?.['containers'] ?? []) as Json[]).map((c) => String(c['image']));
}
