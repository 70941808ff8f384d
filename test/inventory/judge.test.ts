// The state of one image from the policy and the registry's answers (pure: no registry, no cluster).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_CONFIG } from '../../src/config/index.ts';
import { RegistryError, RegistryErrorCode } from '../../src/errors/index.ts';
import { judgeLookups, needsDigestLookup, planImage } from '../../src/inventory/judge.ts';
import type { Answer, Plan } from '../../src/inventory/judge.ts';

const PINNED = `sha256:${'1'.repeat(64)}`;
const MOVED = `sha256:${'2'.repeat(64)}`;
const HOST = 'registry.example:5000';

function answer(digest: string): Answer {
  return { digest, mediaType: 'application/vnd.oci.image.index.v1+json', registry: HOST, repository: 'demo/app', tag: 'v1', source: 'registry' };
}
function failure(code: RegistryErrorCode, message: string): Answer {
  return new RegistryError(code, message, { image: 'x', registry: HOST });
}
const notFound = failure(RegistryErrorCode.notFound, 'not found');

function lookups(image: string): Extract<Plan, { settled: false }> {
  const plan = planImage(image, DEFAULT_CONFIG, undefined);
  assert.equal(plan.settled, false, `${image} needs the registry`);
  return plan as Extract<Plan, { settled: false }>;
}

describe('what the policy settles without the registry', () => {
  it('an image without digest that the policy allows is unpinned, one it denies a violation', () => {
    assert.deepEqual(planImage(`${HOST}/demo/app:v1`, DEFAULT_CONFIG, undefined), {
      settled: true, state: 'unpinned', reason: 'no digest', ref: planImage(`${HOST}/demo/app:v1`, DEFAULT_CONFIG, undefined).ref, excluded: null,
    });
    const latest = planImage(`${HOST}/demo/app:latest`, DEFAULT_CONFIG, undefined);
    assert.equal(latest.settled && latest.state, 'violation');
    assert.equal(latest.settled && latest.reason, 'tag latest is mutable');
  });

  it('a value that is no image reference is a violation with the parser\'s reason', () => {
    const plan = planImage(42, DEFAULT_CONFIG, undefined);
    assert.equal(plan.settled && plan.state, 'violation');
    assert.equal(plan.settled && plan.reason, 'image is not a string (got number)');
  });

  it('exclusions mark the image but do not change its state', () => {
    const config = { ...DEFAULT_CONFIG, exclude: { namespaces: [], images: [`${HOST}/demo/*`] } };
    const byImage = planImage(`${HOST}/demo/app:latest`, config, undefined);
    assert.equal(byImage.settled && byImage.state, 'violation');
    assert.equal(byImage.excluded, `matches exclude.images "${HOST}/demo/*"`);
    const byNamespace = planImage(`${HOST}/demo/app:v1@${PINNED}`, DEFAULT_CONFIG, 'namespace kube-system is excluded');
    assert.equal(byNamespace.settled, false);
    assert.equal(byNamespace.excluded, 'namespace kube-system is excluded');
  });
});

describe('an image with tag and digest', () => {
  const plan = lookups(`${HOST}/demo/app:v1@${PINNED}`);

  it('looks the tag up first, then the digest only when the tag names another or is gone', () => {
    assert.equal(plan.byTag?.original, `${HOST}/demo/app:v1`);
    assert.equal(plan.byDigest.original, `${HOST}/demo/app@${PINNED}`);
    assert.equal(needsDigestLookup(plan, answer(PINNED)), false);
    assert.equal(needsDigestLookup(plan, answer(MOVED)), true);
    assert.equal(needsDigestLookup(plan, notFound), true);
    assert.equal(needsDigestLookup(plan, failure(RegistryErrorCode.unavailable, 'down')), false);
  });

  it('is pinned while the tag names its digest', () => {
    assert.deepEqual(judgeLookups(plan, answer(PINNED), undefined), { state: 'pinned', tagDigest: PINNED, reason: null });
  });

  it('is drifted when the tag names another digest, showing both', () => {
    assert.deepEqual(judgeLookups(plan, answer(MOVED), answer(PINNED)), {
      state: 'drifted', tagDigest: MOVED, reason: `tag v1 now names ${MOVED}, not the pinned ${PINNED}`,
    });
  });

  it('is drifted when the tag is gone but the digest is still there', () => {
    assert.deepEqual(judgeLookups(plan, notFound, answer(PINNED)), { state: 'drifted', tagDigest: null, reason: `tag v1 no longer exists in ${HOST}/demo/app` });
  });

  it('is missing when the digest is gone, whatever the tag names', () => {
    assert.equal(judgeLookups(plan, answer(MOVED), notFound).state, 'missing');
    assert.equal(judgeLookups(plan, answer(MOVED), notFound).tagDigest, MOVED);
    assert.deepEqual(judgeLookups(plan, notFound, notFound), {
      state: 'missing', tagDigest: null, reason: `${PINNED} is no longer in ${HOST}/demo/app (nor is tag v1)`,
    });
  });

  it('failed, with the registry\'s reason, when the tag lookup fails otherwise', () => {
    assert.deepEqual(judgeLookups(plan, failure(RegistryErrorCode.unauthorized, 'unauthorized: HOST answered 401'), undefined), {
      state: 'failed', tagDigest: null, reason: 'unauthorized: HOST answered 401',
    });
  });
});

describe('an image with a digest and no tag', () => {
  const plan = lookups(`${HOST}/demo/app@${PINNED}`);

  it('can only be pinned, missing or failed', () => {
    assert.equal(plan.byTag, undefined);
    assert.equal(judgeLookups(plan, undefined, answer(PINNED)).state, 'pinned');
    assert.equal(judgeLookups(plan, undefined, notFound).state, 'missing');
    assert.equal(judgeLookups(plan, undefined, failure(RegistryErrorCode.network, 'connection refused')).state, 'failed');
    assert.equal(judgeLookups(plan, undefined, answer(MOVED)).state, 'failed', 'the registry answered another digest for it');
  });
});
