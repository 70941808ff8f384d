// /mutate when registries fail: resolve.onError deny and allow, and the deadline held against a registry that never answers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { requireRegistryBinary, startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { admissionReview, patchOf, startServe } from '../support/serve.ts';
import type { LogLine, TagpinServer } from '../support/serve.ts';

const TIMEOUT_MS = 1500;

describe('tagpin serve /mutate when a registry fails', () => {
  let live: TestRegistry;
  let stopped: TestRegistry;
  let liveDigest: string;
  let hanging: Server;
  let hangingHost: string;
  const sockets = new Set<Socket>();
  let deny: TagpinServer;
  let allow: TagpinServer;

  before(async () => {
    requireRegistryBinary();
    [live, stopped] = await Promise.all([startRegistry('http'), startRegistry('http')]);
    liveDigest = await live.push('demo/app', 'v1', 'oci-manifest');
    await stopped.push('demo/app', 'v1', 'oci-manifest');
    await stopped.stop();
    // Accepts connections and never answers: a registry that hangs.
    hanging = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    hangingHost = `127.0.0.1:${String((hanging.address() as AddressInfo).port)}`;
    const registries = { insecure: [live.host, stopped.host, hangingHost] };
    [deny, allow] = await Promise.all([
      startServe({ config: { registries, resolve: { timeoutMs: TIMEOUT_MS, onError: 'deny' } } }),
      startServe({ config: { registries, resolve: { timeoutMs: TIMEOUT_MS, onError: 'allow' } } }),
    ]);
  });
  after(async () => {
    await Promise.all([deny?.stop(), allow?.stop()]);
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => {
      if (hanging === undefined) resolve();
      else hanging.close(() => resolve());
    });
    await live?.stop();
  });

  it('onError deny: denies, naming each failed image with its path, registry and cause', async () => {
    const down = `${stopped.host}/demo/app:v1`;
    const answer = await deny.review('mutate', admissionReview({ object: pod([`${live.host}/demo/app:v1`, down]) }));
    assert.equal(answer.response.allowed, false);
    assert.equal(answer.response.patch, undefined);
    assert.equal(answer.response.status?.code, 403);
    const message = answer.response.status?.message ?? '';
    assert.ok(message.includes(`/spec/containers/1/image "${down}"`), message);
    assert.ok(message.includes(stopped.host), message);
    assert.match(message, /refused/);
    assert.doesNotMatch(message, /containers\/0/);
    const audit = await auditFor(deny, answer.response.uid);
    assert.equal(audit['decision'], 'denied');
    assert.deepEqual(
      (audit['images'] as LogLine[]).map((i) => i['verdict']),
      ['pinned', 'failed'],
    );
  });

  it('onError allow: admits what failed unchanged, pins the rest, and says so in a warning, the audit log and a metric', async () => {
    const up = `${live.host}/demo/app:v1`;
    const down = `${stopped.host}/demo/app:v1`;
    const answer = await allow.review('mutate', admissionReview({ object: pod([up, down]) }));
    assert.equal(answer.response.allowed, true);
    assert.deepEqual(patchOf(answer), [{ op: 'replace', path: '/spec/containers/0/image', value: `${up}@${liveDigest}` }]);
    const warnings = answer.response.warnings ?? [];
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]?.includes(down), warnings[0]);
    for (const warning of warnings) assert.ok(warning.length <= 120, warning);
    const audit = await auditFor(allow, answer.response.uid);
    const failed = (audit['images'] as LogLine[])[1];
    assert.equal(failed?.['verdict'], 'failed');
    assert.match(String(failed?.['reason']), /refused/);
    const metrics = await allow.metrics();
    const host = stopped.host.replaceAll('.', '\\.');
    assert.match(metrics, new RegExp(`^tagpin_resolve_errors_total\\{registry="${host}",code="[A-Z_]+"\\} 1$`, 'm'));
  });

  it('onError allow with every lookup failing: admitted unchanged, decision warned', async () => {
    const answer = await allow.review('mutate', admissionReview({ object: pod([`${stopped.host}/demo/app:v1`]) }));
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.patch, undefined);
    assert.equal(answer.response.warnings?.length, 1);
    assert.equal((await auditFor(allow, answer.response.uid))['decision'], 'warned');
  });

  it('answers before resolve.timeoutMs runs out when a registry never answers', async () => {
    const image = `${hangingHost}/demo/app:v1`;
    const started = Date.now();
    const answer = await deny.review('mutate', admissionReview({ object: pod([image]) }));
    const elapsed = Date.now() - started;
    assert.equal(answer.response.allowed, false);
    assert.ok(answer.response.status?.message.includes(image));
    assert.match(answer.response.status?.message ?? '', /tim(e|ed) ?out|within/i);
    // The API server gives up at its own timeout; tagpin must have answered by its budget plus a small margin.
    assert.ok(elapsed < TIMEOUT_MS + 1000, `answered after ${String(elapsed)} ms`);
    assert.ok(sockets.size > 0 || elapsed >= TIMEOUT_MS - 200, 'the hanging registry was contacted');
  });
});

async function auditFor(server: TagpinServer, uid: string): Promise<LogLine> {
  return server.waitForLine((line) => line['logger'] === 'audit' && line['uid'] === uid);
}

function pod(images: readonly string[]): Record<string, unknown> {
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: { name: 'p', namespace: 'demo', creationTimestamp: null },
    spec: { containers: images.map((image, i) => ({ name: `c${String(i)}`, image, resources: {} })) },
    status: {},
  };
}
