// The chart's `helm test` pod, run against a real `tagpin serve` holding the chart's own certificate and config.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { removeOnExit } from '../support/exit-cleanup.ts';
import { startServe } from '../support/serve.ts';
import type { TagpinServer } from '../support/serve.ts';
import { all, field, only, renderChart } from './render.ts';
import type { KubeObject, Rendered } from './render.ts';

type Json = Record<string, unknown>;

const dir = mkdtempSync(join(tmpdir(), 'tagpin-helm-test-hook-'));
removeOnExit(dir);

/**
 * Preloaded into the hook script: the pod resolves `<svc>.<ns>.svc` through cluster DNS; here that
 * name resolves to 127.0.0.1, and nothing else changes (TLS still checks the name).
 */
const dnsPreload = join(dir, 'cluster-dns.cjs');
writeFileSync(
  dnsPreload,
  `const dns = require('node:dns');
const lookup = dns.lookup;
dns.lookup = function (hostname, options, callback) {
  if (!hostname.endsWith('.svc')) return lookup.apply(this, arguments);
  if (typeof options === 'function') { callback = options; options = {}; }
  if (options && options.all) return process.nextTick(callback, null, [{ address: '127.0.0.1', family: 4 }]);
  return process.nextTick(callback, null, '127.0.0.1', 4);
};
`,
);

interface Hook {
  readonly script: string;
  readonly env: Readonly<Record<string, string>>;
}

/** The hook pod's script and environment, with secretKeyRef values read from the rendered Secret. */
function hookOf(r: readonly Rendered[]): Hook {
  const pod = all(r, 'Pod').find((p) => p.metadata.annotations?.['helm.sh/hook'] === 'test') as KubeObject;
  const container = (field(pod, 'spec', 'containers') as Json[])[0] as Json;
  const command = container.command as string[];
  assert.equal(command.at(-2), '-e');
  const secret = only(r, 'Secret');
  const env: Record<string, string> = {};
  for (const e of container.env as Json[]) {
    const ref = field(e, 'valueFrom', 'secretKeyRef') as Json | undefined;
    if (ref !== undefined) {
      assert.equal(ref.name, secret.metadata.name);
      env[String(e.name)] = Buffer.from(String(field(secret, 'data', String(ref.key))), 'base64').toString('utf8');
    } else {
      env[String(e.name)] = String(e.value);
    }
  }
  return { script: command.at(-1) as string, env };
}

/** Runs the hook script the way the pod does (`node -e SCRIPT`) against the server's port. */
function runHook(hook: Hook, port: number, overrides: Readonly<Record<string, string>> = {}): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--require', dnsPreload, '-e', hook.script],
      { env: { PATH: process.env.PATH ?? '', ...hook.env, TAGPIN_PORT: String(port), ...overrides }, timeout: 20_000 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, output: stdout + stderr }),
    );
  });
}

/** Starts `tagpin serve` with the chart's rendered config, serving the chart's Secret. */
async function serveChart(r: readonly Rendered[], name: string): Promise<TagpinServer> {
  const data = only(r, 'Secret').data as Json;
  const tlsCert = join(dir, `${name}.crt`);
  const tlsKey = join(dir, `${name}.key`);
  writeFileSync(tlsCert, Buffer.from(String(data['tls.crt']), 'base64'));
  writeFileSync(tlsKey, Buffer.from(String(data['tls.key']), 'base64'));
  const config = parse(String(field(only(r, 'ConfigMap'), 'data', 'config.yaml'))) as Json;
  const server: Json = { ...(config.server as Json), tlsCert, tlsKey };
  delete server.port; // startServe picks a free one; the chart's 8443 may be taken (two servers here, other suites)
  return startServe({ config: { ...config, server } });
}

describe('helm test pod', () => {
  const denying = renderChart();
  const warning = renderChart({ values: { config: { validate: { action: 'warn' } } } });
  let denyServer: TagpinServer;
  let warnServer: TagpinServer;

  before(async () => {
    [denyServer, warnServer] = await Promise.all([serveChart(denying, 'deny'), serveChart(warning, 'warn')]);
  });
  after(async () => {
    await Promise.all([denyServer?.stop(), warnServer?.stop()]);
  });

  it('passes against tagpin serving the chart certificate: a pinned image allowed, `latest` denied with 403', async () => {
    const result = await runHook(hookOf(denying), denyServer.port);
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /ok \/validate registry\.example\/helm-test@sha256:0{64}: allowed=true/);
    assert.match(result.output, /ok \/validate registry\.example\/helm-test:latest: allowed=false/);
    const audit = await denyServer.auditWhere((l) => l.webhook === 'validate', 2);
    assert.deepEqual(audit.map((l) => [l.decision, l.dryRun]), [['allowed', true], ['denied', true]], 'the review is a dry run');
  });

  it('expects no denial where the chart configures warnings', async () => {
    const hook = hookOf(warning);
    assert.equal(hook.env.TAGPIN_EXPECT_DENY, 'false');
    const result = await runHook(hook, warnServer.port);
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /helm-test:latest: allowed=true/);
  });

  it('fails when the server cannot be verified with the webhook CA', async () => {
    const otherCa = hookOf(renderChart()).env.TAGPIN_CA as string;
    const result = await runHook(hookOf(denying), denyServer.port, { TAGPIN_CA: otherCa });
    assert.equal(result.code, 1);
    assert.match(result.output, /tagpin helm test failed: .*(certificate|verify)/i);
  });

  it('fails when tagpin answers differently than the config says', async () => {
    const result = await runHook(hookOf(denying), warnServer.port, { TAGPIN_CA: hookOf(warning).env.TAGPIN_CA as string });
    assert.equal(result.code, 1);
    assert.match(result.output, /tagpin helm test failed: \/validate registry\.example\/helm-test:latest: allowed=true, want false/);
  });
});
