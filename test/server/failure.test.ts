// /mutate when registries fail: resolve.onError deny and allow, a registry that never answers, and /healthz meanwhile.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pod } from '../support/objects.ts';
import { sample } from '../support/prometheus.ts';
import { requireRegistryBinary, startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { admissionReview, patchOf } from '../support/reviews.ts';
import type { AdmissionAnswer } from '../support/reviews.ts';
import { startServe } from '../support/serve.ts';
import type { LogLine, TagpinServer } from '../support/serve.ts';
import { startSilentServer } from '../support/servers.ts';
import type { SilentServer } from '../support/servers.ts';
import { eventually } from '../support/wait.ts';

/** Room for a lookup against a live registry on a busy machine; the hanging registry outlasts it. */
const TIMEOUT_MS = 3000;

describe('tagpin serve /mutate when a registry fails', () => {
  let live: TestRegistry;
  let stopped: TestRegistry;
  let liveDigest: string;
  /** Accepts connections and never answers: a registry that hangs. */
  let hanging: SilentServer;
  /** Another one, for the test that holds a lookup open until it lets go. */
  let held: SilentServer;
  let deny: TagpinServer;
  let allow: TagpinServer;
  /** A server whose budget outlasts any test, so only the test decides when its lookup ends. */
  let patient: TagpinServer;

  before(async () => {
    requireRegistryBinary();
    [live, stopped, hanging, held] = await Promise.all([startRegistry('http'), startRegistry('http'), startSilentServer(), startSilentServer()]);
    liveDigest = await live.push('demo/app', 'v1', 'oci-manifest');
    await stopped.push('demo/app', 'v1', 'oci-manifest');
    await stopped.stop();
    const registries = { insecure: [live.host, stopped.host, hanging.host, held.host] };
    [deny, allow, patient] = await Promise.all([
      startServe({ config: { registries, resolve: { timeoutMs: TIMEOUT_MS, onError: 'deny' } } }),
      startServe({ config: { registries, resolve: { timeoutMs: TIMEOUT_MS, onError: 'allow' } } }),
      startServe({ config: { registries, resolve: { timeoutMs: 30_000, onError: 'deny' } } }),
    ]);
  });
  after(async () => {
    await Promise.all([deny?.stop(), allow?.stop(), patient?.stop()]);
    await Promise.all([hanging?.close(), held?.close()]);
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
    const audit = await deny.auditFor(answer.response.uid);
    assert.equal(audit['decision'], 'denied');
    assert.deepEqual(
      (audit['images'] as LogLine[]).map((i) => i['verdict']),
      ['pinned', 'failed'],
    );
  });

  it('onError allow: admits what failed unchanged, pins the rest, and says so in a warning, the audit log and a metric', async () => {
    const up = `${live.host}/demo/app:v1`;
    const down = `${stopped.host}/demo/app:v1`;
    const refusals = async (): Promise<number> => sample(await allow.metrics(), 'tagpin_resolve_errors_total', { registry: stopped.host, code: 'REGISTRY_NETWORK' }) ?? 0;
    const before = await refusals();
    const answer = await allow.review('mutate', admissionReview({ object: pod([up, down]) }));
    assert.equal(answer.response.allowed, true);
    assert.deepEqual(patchOf(answer), [{ op: 'replace', path: '/spec/containers/0/image', value: `${up}@${liveDigest}` }]);
    const warnings = answer.response.warnings ?? [];
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]?.includes(down), warnings[0]);
    for (const warning of warnings) assert.ok(warning.length <= 120, warning);
    const audit = await allow.auditFor(answer.response.uid);
    const failed = (audit['images'] as LogLine[])[1];
    assert.equal(failed?.['verdict'], 'failed');
    assert.match(String(failed?.['reason']), /refused/);
    assert.equal(await refusals(), before + 1);
  });

  it('onError allow with every lookup failing: admitted unchanged, decision warned', async () => {
    const answer = await allow.review('mutate', admissionReview({ object: pod([`${stopped.host}/demo/app:v1`]) }));
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.patch, undefined);
    assert.equal(answer.response.warnings?.length, 1);
    assert.equal((await allow.auditFor(answer.response.uid))['decision'], 'warned');
  });

  it('denies with a timeout at resolve.timeoutMs when a registry never answers, having hung up on it', async () => {
    const image = `${hanging.host}/demo/app:v1`;
    const timeouts = async (): Promise<number> => sample(await deny.metrics(), 'tagpin_resolve_errors_total', { registry: hanging.host, code: 'REGISTRY_TIMEOUT' }) ?? 0;
    const before = { timeouts: await timeouts(), asked: hanging.asked() };
    const answer = await deny.review('mutate', admissionReview({ object: pod([image]) }));
    assert.equal(answer.response.allowed, false);
    const message = answer.response.status?.message ?? '';
    assert.ok(message.includes(`/spec/containers/0/image "${image}": timed out after `), message);
    assert.equal(await timeouts(), before.timeouts + 1);
    assert.ok(hanging.asked() > before.asked, 'the hanging registry was asked');
    // The registry never closes a connection: tagpin hung up on each request when its budget ran out.
    await eventually(() => hanging.stillAsking() === 0, 'tagpin to hang up on the hanging registry');
  });

  it('answers /healthz while a lookup hangs, and the lookup when the registry lets go', async () => {
    const asked = held.asked();
    let answered: AdmissionAnswer | undefined;
    const pending = patient.review('mutate', admissionReview({ object: pod([`${held.host}/demo/app:v1`]) })).then((answer) => {
      answered = answer;
      return answer;
    });
    await eventually(() => held.asked() > asked, 'the lookup to reach the hanging registry');
    const health = await patient.get('/healthz');
    assert.deepEqual([health.status, health.text], [200, 'ok']);
    assert.equal(answered, undefined, 'the lookup was still held when /healthz answered');
    await held.close();
    const answer = await pending;
    assert.equal(answer.response.allowed, false);
    assert.match(answer.response.status?.message ?? '', new RegExp(`${held.host.replaceAll('.', '\\.')}.*(refused|reset|closed)`));
  });
});
