// The registry's error body: what counts as one, and how its message is quoted (one line, short, no credentials).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseErrorBody, quoteSaid } from '../../src/registry/error-body.ts';

const bytes = (value: unknown): Buffer => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

describe('parseErrorBody', () => {
  it('reads the first entry of an OCI error body and never its detail', () => {
    const body = { errors: [{ code: 'DENIED', message: 'no access', detail: { secret: 'x' } }, { code: 'UNAUTHORIZED', message: 'second' }] };
    assert.deepEqual(parseErrorBody(bytes(body)), { code: 'DENIED', message: 'no access' });
  });

  it('takes an entry without a message', () => {
    assert.deepEqual(parseErrorBody(bytes({ errors: [{ code: 'NAME_UNKNOWN' }] })), { code: 'NAME_UNKNOWN', message: '' });
  });

  it('is not fooled by HTML, other JSON, empty bodies or codes that are not error codes', () => {
    for (const body of ['<html>404</html>', '{}', '{"errors":[]}', '{"errors":"DENIED"}', '', 'null', '{"errors":[{"code":"denied\\nX"}]}']) {
      assert.equal(parseErrorBody(bytes(body)), undefined, body);
    }
    assert.equal(parseErrorBody(undefined), undefined);
  });
});

describe('quoteSaid', () => {
  it('puts code and message on one line', () => {
    assert.equal(quoteSaid({ code: 'DENIED', message: ' requested access\r\n\tto the resource\u0000 is denied ' }), 'DENIED: requested access to the resource is denied');
    assert.equal(quoteSaid({ code: 'NAME_UNKNOWN', message: '' }), 'NAME_UNKNOWN');
  });

  it('cuts at 200 characters, ending in an ellipsis', () => {
    const quoted = quoteSaid({ code: 'TOOMANYREQUESTS', message: 'slow down '.repeat(50) });
    assert.equal(quoted.length, 200);
    assert.ok(quoted.endsWith('…'));
  });

  it('blanks the Authorization it is given, its token and its Basic password, and any other credential-shaped value', () => {
    const basic = `Basic ${Buffer.from('ci:s3cret-pass').toString('base64')}`;
    const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2lnbmF0dXJl';
    const message = `refused ${basic} / ${basic.slice('Basic '.length)} / s3cret-pass / Bearer opaque-Token-123 / ${jwt}`;
    const quoted = quoteSaid({ code: 'DENIED', message }, [basic]);
    assert.equal(quoted, 'DENIED: refused [redacted] / [redacted] / [redacted] / Bearer [redacted] / [redacted]');
  });

  it('leaves words alone that only follow the names of auth schemes', () => {
    assert.equal(quoteSaid({ code: 'UNAUTHORIZED', message: 'Basic authentication required' }), 'UNAUTHORIZED: Basic authentication required');
  });
});
