// How errors become one stderr line and an exit code.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, InputError, InvalidReferenceError, RegistryError, RegistryErrorCode } from '../../src/errors/index.ts';
import { ExitCode, UsageError, exitCodeFor, formatError } from '../../src/cli/errors.ts';

describe('formatError', () => {
  test('a registry failure names the image first and keeps the registry in the line', () => {
    const err = new RegistryError(RegistryErrorCode.notFound, 'tag 1.99 not found in docker.io/library/nginx', {
      image: 'nginx:1.99',
      registry: 'docker.io',
      status: 404,
    });
    assert.equal(formatError(err), 'nginx:1.99: tag 1.99 not found in docker.io/library/nginx');
    assert.equal(exitCodeFor(err), ExitCode.failed);
  });

  test('a registry missing from the message is added', () => {
    const err = new RegistryError(RegistryErrorCode.timeout, 'timed out after 8000 ms', { image: 'a/b:1', registry: 'r.example' });
    assert.equal(formatError(err), 'a/b:1: timed out after 8000 ms (registry r.example)');
  });

  test('a bad reference is reported as its parser says, without repeating the image', () => {
    const err = new InvalidReferenceError('invalid image reference "A/B": repository name must be lowercase', { image: 'A/B' });
    assert.equal(formatError(err), 'invalid image reference "A/B": repository name must be lowercase');
    assert.equal(exitCodeFor(err), ExitCode.usage);
  });

  test('configuration and input errors keep their message and exit 2', () => {
    assert.equal(formatError(new ConfigError('config c.yaml: unknown key a.b', { where: 'c.yaml' })), 'config c.yaml: unknown key a.b');
    assert.equal(formatError(new InputError('line 3: bad', { where: 'x.yaml' })), 'x.yaml: line 3: bad');
    assert.equal(exitCodeFor(new InputError('x')), ExitCode.usage);
  });

  test('usage errors point at the help of their command', () => {
    assert.equal(formatError(new UsageError('unknown option --x', 'pin')), 'unknown option --x (see tagpin pin --help)');
  });

  test('anything else is an internal error, on one line, exit 2', () => {
    assert.equal(formatError(new TypeError('a\n  b')), 'internal error: a b (set TAGPIN_DEBUG=1 for details)');
    assert.equal(exitCodeFor(new TypeError('x')), ExitCode.usage);
  });
});
