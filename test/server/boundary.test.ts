// The HTTP layer's last line: an error no review boundary caught is logged with its stack and answered without internals.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { request } from 'undici';
import { createApp } from '../../src/server/index.ts';

describe('express error handler', () => {
  const lines: Array<Record<string, unknown>> = [];
  const rejected: Array<{ webhook: string; status: number }> = [];
  let url: string;
  let close: () => Promise<void>;

  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
        done();
      },
    });
    const app = createApp({
      log: pino(sink),
      isReady: () => true,
      rejected: (webhook, status) => rejected.push({ webhook, status }),
      review: () => Promise.reject(new TypeError('secret internals: cannot read x of undefined')),
    });
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
    close = () => new Promise((resolve) => server.close(() => {
      resolve();
    }));
  });
  after(async () => {
    await close();
  });

  it('answers 500 (not 400: it is no client error) without the error text, and logs it with its stack', async () => {
    const answer = await request(`${url}/mutate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"kind":"AdmissionReview"}' });
    const text = await answer.body.text();
    assert.equal(answer.statusCode, 500);
    assert.deepEqual(JSON.parse(text), { error: 'tagpin failed to answer this request (logged with its stack)' });
    assert.doesNotMatch(text, /secret internals/);
    const logged = lines.find((l) => l['msg'] === 'unexpected error answering a request');
    assert.ok(logged !== undefined, 'logged');
    assert.equal(logged['level'], 50, 'as an error');
    assert.match(String((logged['err'] as { stack?: string }).stack), /TypeError: secret internals[\s\S]*boundary\.test\.ts/);
    assert.deepEqual(rejected, [{ webhook: 'mutate', status: 500 }]);
  });

  it('still answers a body that is not JSON with 400', async () => {
    const answer = await request(`${url}/validate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    assert.equal(answer.statusCode, 400);
    assert.match(await answer.body.text(), /body is not valid JSON/);
  });
});
