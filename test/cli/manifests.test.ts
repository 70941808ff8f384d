// Reading manifests: documents, Kubernetes objects and Lists, and errors with file and line.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InputError } from '../../src/errors/index.ts';
import { parseManifest } from '../../src/cli/manifests.ts';

describe('parseManifest', () => {
  test('lists top-level objects and the items of Lists, with pointers and lines', () => {
    const text = [
      '# comment',
      'kind: Pod',
      'metadata: {name: a, namespace: n}',
      '---',
      '---',
      'kind: DeploymentList',
      'items:',
      '- kind: Deployment',
      '  metadata: {name: b}',
      '- not an object',
      '---',
      'just a string',
      '',
    ].join('\n');
    const manifest = parseManifest({ name: 'x.yaml', path: undefined, text });
    const objects = manifest.documents.map((document) =>
      document.objects.map(({ kind, name, namespace, pointer, line }) => ({ kind, name, namespace, pointer, line })),
    );
    assert.deepEqual(objects, [
      [{ kind: 'Pod', name: 'a', namespace: 'n', pointer: '', line: 2 }],
      [],
      [{ kind: 'Deployment', name: 'b', namespace: undefined, pointer: '/items/0', line: 8 }],
      [],
    ]);
  });

  test('text that is not YAML is an InputError naming file and line', () => {
    assert.throws(
      () => parseManifest({ name: 'bad.yaml', path: undefined, text: 'a: 1\nb: [1, 2\nc: 3\n' }),
      (err: unknown) => err instanceof InputError && /^bad\.yaml:\d+: not valid YAML: /.test(err.message) && !err.message.includes('\n'),
    );
  });

  test('duplicate keys are rejected with file and line, as the object they mean is ambiguous', () => {
    assert.throws(
      () => parseManifest({ name: 'dup.yaml', path: undefined, text: 'kind: Pod\nkind: Job\n' }),
      (err: unknown) => err instanceof InputError && err.message.startsWith('dup.yaml:2: '),
    );
  });

  test('an empty input has no documents', () => {
    assert.deepEqual(parseManifest({ name: 'empty.yaml', path: undefined, text: '' }).documents, []);
  });
});
