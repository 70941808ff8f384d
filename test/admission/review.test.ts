// Decoding AdmissionReviews: what is read, and the one-line reason a malformed review is refused.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeReview } from '../../src/admission/index.ts';
import { InputError } from '../../src/errors/index.ts';
import { admissionReview } from '../support/serve.ts';

const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'demo' }, spec: { containers: [] } };

function review(changes: Readonly<Record<string, unknown>> = {}, top: Readonly<Record<string, unknown>> = {}): unknown {
  const base = admissionReview({ object: pod });
  // JSON drops undefined members, which is how a change removes a field.
  return JSON.parse(JSON.stringify({ ...base, ...top, request: { ...(base['request'] as object), ...changes } })) as unknown;
}

describe('decodeReview', () => {
  it('reads the fields tagpin uses from a v1 review', () => {
    const request = decodeReview(review({ uid: 'u-1', name: '', dryRun: true, userInfo: { username: 'alice' } }));
    assert.equal(request.apiVersion, 'admission.k8s.io/v1');
    assert.equal(request.uid, 'u-1');
    assert.equal(request.kind, 'Pod');
    assert.equal(request.group, '');
    assert.equal(request.version, 'v1');
    assert.equal(request.operation, 'CREATE');
    assert.equal(request.namespace, 'demo');
    // An empty request.name (generateName) falls back to the object's own name when it has one.
    assert.equal(request.name, 'web');
    assert.equal(request.user, 'alice');
    assert.equal(request.dryRun, true);
    assert.equal(request.subResource, '');
    assert.deepEqual(request.object, pod);
    assert.equal(request.oldObject, null);
  });

  it('accepts admission.k8s.io/v1beta1 and remembers the version to answer in', () => {
    assert.equal(decodeReview(review({}, { apiVersion: 'admission.k8s.io/v1beta1' })).apiVersion, 'admission.k8s.io/v1beta1');
  });

  it('reads the group and version of a custom kind, and leaves them undefined when the review has none', () => {
    const custom = decodeReview(review({ kind: { group: 'argoproj.io', version: 'v1alpha1', kind: 'Rollout' } }));
    assert.deepEqual([custom.group, custom.version, custom.kind], ['argoproj.io', 'v1alpha1', 'Rollout']);
    const bare = decodeReview(review({ kind: { kind: 'Pod' } }));
    assert.deepEqual([bare.group, bare.version], [undefined, undefined]);
  });

  it('accepts DELETE without an object', () => {
    const request = decodeReview(review({ operation: 'DELETE', object: null, oldObject: pod }));
    assert.equal(request.object, null);
    assert.deepEqual(request.oldObject, pod);
  });

  const refused: ReadonlyArray<readonly [string, unknown, RegExp]> = [
    ['a non-object body', [1, 2], /expected a JSON object/],
    ['null', null, /expected a JSON object/],
    ['another kind', review({}, { kind: 'Pod' }), /kind must be "AdmissionReview" \(got "Pod"\)/],
    ['an unknown version', review({}, { apiVersion: 'v1' }), /apiVersion must be one of admission\.k8s\.io\/v1, admission\.k8s\.io\/v1beta1 \(got "v1"\)/],
    ['a missing request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, /request is missing/],
    ['a missing uid', review({ uid: undefined }), /^request\.uid is missing$/],
    ['an empty uid', review({ uid: '' }), /^request\.uid is missing$/],
    ['a numeric uid', review({ uid: 7 }), /request\.uid must be a string \(got 7\)/],
    ['a missing kind', review({ kind: undefined }), /request\.kind\.kind is missing/],
    ['a numeric kind group', review({ kind: { group: 1, version: 'v1', kind: 'Pod' } }), /request\.kind\.group must be a string \(got 1\)/],
    ['an unknown operation', review({ operation: 'APPLY' }), /request\.operation must be one of CREATE, UPDATE, DELETE, CONNECT \(got "APPLY"\)/],
    ['CREATE without object', review({ object: undefined }), /request\.object is missing \(required for CREATE\)/],
    ['UPDATE with a string object', review({ operation: 'UPDATE', object: 'pod' }), /request\.object must be a JSON object/],
    ['a numeric namespace', review({ namespace: 3 }), /request\.namespace must be a string/],
    ['a string dryRun', review({ dryRun: 'yes' }), /request\.dryRun must be a boolean/],
  ];
  for (const [what, body, message] of refused) {
    it(`refuses ${what} with an InputError naming the field`, () => {
      assert.throws(
        () => decodeReview(body),
        (error: unknown) => error instanceof InputError && message.test(error.message) && !error.message.includes('\n'),
      );
    });
  }

  it('cuts long values it quotes back', () => {
    assert.throws(
      () => decodeReview(review({ operation: 'X'.repeat(500) })),
      (error: unknown) => error instanceof Error && error.message.length < 200,
    );
  });
});
