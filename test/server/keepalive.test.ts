// An idle keep-alive connection stays open for the API server, whose client reuses it for up to 90 s.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { admissionReview, startServe } from '../support/serve.ts';
import type { TagpinServer } from '../support/serve.ts';

/** Sends one POST /validate on `socket` and resolves with the status line of the answer. */
function post(socket: TLSSocket, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const onData = (chunk: Buffer): void => {
      answer += chunk.toString('utf8');
      const head = answer.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(answer)?.[1];
      if (head !== -1 && length !== undefined && answer.length >= head + 4 + Number(length)) {
        socket.off('data', onData);
        resolve(answer.split('\r\n', 1)[0] ?? '');
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${String(Buffer.byteLength(body))}\r\n\r\n${body}`);
  });
}

describe('keep-alive', () => {
  let server: TagpinServer;

  before(async () => {
    server = await startServe();
  });
  after(async () => {
    await server?.stop();
  });

  it('keeps an idle connection open past Node\'s 5 s default, so the next review on it is answered', async () => {
    const socket = connect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false });
    let closedBy: string | undefined;
    socket.once('end', () => {
      closedBy = 'the server ended the connection';
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      });
      const review = JSON.stringify(admissionReview({ object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [] } } }));
      assert.equal(await post(socket, review), 'HTTP/1.1 200 OK');
      // Longer than Node's default keepAliveTimeout (5 s), far shorter than the API server's 90 s.
      await sleep(6_500);
      assert.equal(closedBy, undefined, 'the idle connection is still open');
      assert.equal(await post(socket, review), 'HTTP/1.1 200 OK');
    } finally {
      socket.destroy();
    }
  });
});
