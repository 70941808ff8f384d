// The fault matrix: every registry fault × onError deny/allow, answered in time, with the right verdict, a reason, and a metric.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedHost, startFaultProxy, startTokenRealm } from '../support/fault-proxy.ts';
import type { Fault, FaultProxy, TokenRealm } from '../support/fault-proxy.ts';
import { createPki } from '../support/pki.ts';
import type { Pki } from '../support/pki.ts';
import { requireRegistryBinary, startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { admissionReview, patchOf, startServe } from '../support/serve.ts';
import type { AdmissionAnswer, LogLine, TagpinServer } from '../support/serve.ts';
import { auditFor, pod, sample, sumSamples, timed, writeDockerConfig } from './helpers.ts';

/** Short, so the suite stays fast; the bound below is what the API server's own timeout relies on. */
const TIMEOUT_MS = 1500;
const BOUND_MS = TIMEOUT_MS + 250;
const LINK_LOCAL = '169.254.169.254';
const MODES = ['deny', 'allow'] as const;
type Mode = (typeof MODES)[number];

/** A row of the matrix: how to build the faulty registry, and what tagpin must make of it. */
interface FaultCase {
  readonly name: string;
  /** `pinned`, or the cause the reason must state. */
  readonly expect: 'pinned' | RegExp;
  /** Builds the registry host images of this case point at (a proxy, or a closed port). */
  readonly setup: (env: Environment) => Promise<{ readonly host: string; readonly proxy?: FaultProxy }>;
  /** Hosts besides the registry that the reason must name (a token realm, say). */
  readonly alsoNames?: (env: Environment) => readonly string[];
  /** A known gap, reported as todo rather than failing the suite. */
  readonly todo?: string;
}

interface Environment {
  readonly registry: TestRegistry;
  readonly pki: Pki;
  readonly realm: TokenRealm;
  /** A plain pass-through proxy reached as `localhost:PORT`: "another host" for redirects. */
  readonly elsewhere: FaultProxy;
  readonly realmDown: string;
  readonly proxy: (fault: Fault, tls?: { readonly wrongName?: boolean }) => Promise<FaultProxy>;
}

/** Faults in a body: the proxy's HEAD answers without Docker-Content-Digest, so tagpin meets them on its GET. */
const GET_SIDE = 'on GET';

const CASES: readonly FaultCase[] = [
  { name: 'latency 200 ms (within budget)', expect: 'pinned', setup: viaProxy({ kind: 'latency', ms: 200 }) },
  { name: 'latency 5 s (beyond budget)', expect: /timed out|within resolve\.timeoutMs/, setup: viaProxy({ kind: 'latency', ms: 5000 }) },
  { name: 'connection refused (closed port)', expect: /connection refused/, setup: async () => ({ host: await closedHost() }) },
  { name: `reset mid-response (${GET_SIDE})`, expect: /reset|closed|socket/i, setup: viaProxy({ kind: 'reset' }) },
  { name: '500', expect: /500 Internal Server Error/, setup: viaProxy({ kind: 'status', status: 500 }) },
  { name: '502', expect: /502 Bad Gateway/, setup: viaProxy({ kind: 'status', status: 502 }) },
  { name: '503', expect: /503 Service Unavailable/, setup: viaProxy({ kind: 'status', status: 503 }) },
  { name: '429 with Retry-After: 30', expect: /rate limited/, setup: viaProxy({ kind: 'rate-limit', retryAfter: '30' }) },
  { name: '401 on every try (credentials configured)', expect: /unauthorized: credentials from .* were rejected/, setup: viaProxy({ kind: 'unauthorized' }) },
  { name: `wrong Docker-Content-Digest (${GET_SIDE})`, expect: /Docker-Content-Digest sha256:[0-9a-f]{64} .* hashes to sha256:/, setup: viaProxy({ kind: 'wrong-digest' }) },
  {
    name: `Docker-Content-Digest missing, body altered (${GET_SIDE}, still a valid manifest)`,
    expect: /hashes to sha256:[0-9a-f]{64}, which the registry does not know \(body altered in transit\?\)/,
    setup: viaProxy({ kind: 'corrupt-body' }),
  },
  { name: `truncated body (${GET_SIDE})`, expect: /closed|terminated|length|socket/i, setup: viaProxy({ kind: 'truncated' }) },
  { name: `10 MiB manifest (${GET_SIDE})`, expect: /larger than 4 MiB/, setup: viaProxy({ kind: 'huge', bytes: 10 * 1024 * 1024 }) },
  { name: `body trickled at 1 byte/s (${GET_SIDE})`, expect: /timed out|within resolve\.timeoutMs/, setup: viaProxy({ kind: 'trickle', bytesPerSecond: 1 }) },
  {
    name: 'redirect to another host',
    expect: 'pinned',
    setup: async (env) => {
      const proxy = await env.proxy({ kind: 'redirect', to: `http://localhost:${portOf(env.elsewhere.host)}` });
      return { host: proxy.host, proxy };
    },
  },
  {
    name: `redirect to a link-local address (${LINK_LOCAL})`,
    expect: new RegExp(`refusing to contact ${LINK_LOCAL.replaceAll('.', '\\.')}.*link-local`),
    setup: viaProxy({ kind: 'redirect', to: `http://${LINK_LOCAL}` }),
  },
  {
    name: 'token realm on another host',
    expect: 'pinned',
    setup: async (env) => {
      const proxy = await env.proxy({ kind: 'bearer', realm: env.realm.realm, accepts: (token) => env.realm.accepts(token) });
      return { host: proxy.host, proxy };
    },
  },
  {
    name: 'token endpoint down',
    expect: /cannot connect to .*connection refused/,
    setup: async (env) => {
      const proxy = await env.proxy({ kind: 'bearer', realm: `https://${env.realmDown}/token`, accepts: () => false });
      return { host: proxy.host, proxy };
    },
    alsoNames: (env) => [env.realmDown],
  },
  {
    name: `token realm on a link-local address (${LINK_LOCAL})`,
    expect: new RegExp(`refusing to contact ${LINK_LOCAL.replaceAll('.', '\\.')}.*link-local`),
    setup: viaProxy({ kind: 'bearer', realm: `https://${LINK_LOCAL}/token`, accepts: () => false }),
  },
  {
    name: 'TLS certificate for the wrong name',
    expect: /TLS error .*certificate|altnames|does not match/i,
    setup: async (env) => {
      const proxy = await env.proxy({ kind: 'none' }, { wrongName: true });
      return { host: proxy.host, proxy };
    },
  },
];

function viaProxy(fault: Fault): FaultCase['setup'] {
  return async (env) => {
    const proxy = await env.proxy(fault);
    return { host: proxy.host, proxy };
  };
}

function portOf(host: string): string {
  return host.slice(host.lastIndexOf(':') + 1);
}

/** What one server answered for one case. */
interface Outcome {
  readonly validate: { readonly answer: AdmissionAnswer; readonly ms: number };
  readonly mutate: { readonly answer: AdmissionAnswer; readonly ms: number };
  /** Requests the faulty registry had seen when /validate had answered on both servers. */
  readonly seenAfterValidate: number | undefined;
  readonly audit: LogLine;
}

interface Prepared {
  readonly fault: FaultCase;
  readonly host: string;
  readonly image: string;
  readonly proxy: FaultProxy | undefined;
  readonly outcomes: Map<Mode, Outcome>;
}

describe('fault matrix: /mutate and /validate against misbehaving registries, onError deny and allow', () => {
  let registry: TestRegistry;
  let digest: string;
  let pki: Pki;
  let realm: TokenRealm;
  let elsewhere: FaultProxy;
  let dir: string;
  let env: Environment;
  const proxies: FaultProxy[] = [];
  const servers = new Map<Mode, TagpinServer>();
  const prepared: Prepared[] = [];
  const health = new Map<Mode, { readonly status: number; readonly ms: number }>();
  const metrics = new Map<Mode, string>();

  before(async () => {
    requireRegistryBinary();
    [registry, pki, dir] = await Promise.all([
      startRegistry('http'),
      createPki(),
      mkdtemp(join(tmpdir(), 'tagpin-faults-')),
    ]);
    digest = await registry.push('demo/app', 'v1', 'oci-manifest');
    realm = await startTokenRealm(pki);
    const proxy = async (fault: Fault, tls?: { readonly wrongName?: boolean }): Promise<FaultProxy> => {
      const started = await startFaultProxy({ upstream: registry.baseUrl, fault, ...(tls === undefined ? {} : { tls: { pki, ...tls } }) });
      proxies.push(started);
      return started;
    };
    elsewhere = await proxy({ kind: 'none' });
    env = { registry, pki, realm, elsewhere, realmDown: await closedHost(), proxy };

    for (const fault of CASES) {
      const { host, proxy: front } = await fault.setup(env);
      prepared.push({ fault, host, image: `${host}/demo/app:v1`, proxy: front, outcomes: new Map() });
    }
    const tlsHosts = new Set(proxies.filter((p) => p.baseUrl.startsWith('https:')).map((p) => p.host));
    const plainHosts = [...prepared.map((p) => p.host).filter((h) => !tlsHosts.has(h)), `localhost:${portOf(elsewhere.host)}`];
    // Credentials for the registry that refuses everyone: tagpin must try them, be refused, and say so.
    const unauthorized = prepared.find((p) => p.fault.name.startsWith('401'));
    const dockerConfig = await writeDockerConfig(dir, unauthorized === undefined ? {} : { [unauthorized.host]: { username: 'fault-user', password: 'fault-password' } });
    const registries = {
      insecure: plainHosts,
      // Every test host is loopback: listed so a guard that refuses unlisted loopback registries lets them through.
      allow: ['127.0.0.1', 'localhost'],
      caFile: pki.caFile,
      dockerConfig,
    };
    const started = await Promise.all(
      MODES.map((onError) => startServe({ config: { registries, resolve: { timeoutMs: TIMEOUT_MS, onError } } })),
    );
    MODES.forEach((mode, i) => servers.set(mode, started[i] as TagpinServer));

    // Every case at once against both servers: the budget must hold under concurrent failures.
    const probe = (async () => {
      await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS / 3));
      for (const mode of MODES) {
        const server = servers.get(mode) as TagpinServer;
        const { value, ms } = await timed(() => server.get('/healthz'));
        health.set(mode, { status: value.status, ms });
      }
    })();
    await Promise.all([probe, ...prepared.map((p) => run(p))]);
    for (const mode of MODES) metrics.set(mode, await (servers.get(mode) as TagpinServer).metrics());
    if (process.env['TAGPIN_FAULT_TABLE'] !== undefined) printTable(prepared);
  });

  async function run(p: Prepared): Promise<void> {
    const reviews = new Map(MODES.map((mode) => [mode, admissionReview({ object: pod([p.image]) })]));
    const validated = await Promise.all(
      MODES.map((mode) => timed(() => (servers.get(mode) as TagpinServer).review('validate', reviews.get(mode)))),
    );
    const seenAfterValidate = p.proxy?.count();
    const mutated = await Promise.all(
      MODES.map((mode) => timed(() => (servers.get(mode) as TagpinServer).review('mutate', reviews.get(mode)))),
    );
    for (const [i, mode] of MODES.entries()) {
      const mutate = mutated[i] as { value: AdmissionAnswer; ms: number };
      const validate = validated[i] as { value: AdmissionAnswer; ms: number };
      const audit = await auditFor(servers.get(mode) as TagpinServer, mutate.value.response.uid);
      p.outcomes.set(mode, {
        validate: { answer: validate.value, ms: validate.ms },
        mutate: { answer: mutate.value, ms: mutate.ms },
        seenAfterValidate,
        audit,
      });
    }
  }

  after(async () => {
    await Promise.all([...servers.values()].map((s) => s.stop()));
    await Promise.all(proxies.map((p) => p.close()));
    await realm?.close();
    await registry?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  for (const fault of CASES) {
    for (const mode of MODES) {
      const title = `${fault.name}, onError ${mode}: ${fault.expect === 'pinned' ? 'pinned' : mode === 'deny' ? 'denied with the cause' : 'admitted unchanged with a warning'} within timeoutMs + 250 ms`;
      it(title, fault.todo === undefined ? {} : { todo: fault.todo }, () => {
        const p = prepared.find((x) => x.fault === fault);
        assert.ok(p !== undefined);
        const outcome = p.outcomes.get(mode);
        assert.ok(outcome !== undefined, 'the case ran');
        const { mutate, validate, audit } = outcome;
        assert.ok(mutate.ms <= BOUND_MS, `/mutate answered after ${String(mutate.ms)} ms`);
        assert.ok(validate.ms <= BOUND_MS, `/validate answered after ${String(validate.ms)} ms`);

        // /validate judges the reference only: allowed (v1 is no violation), no registry contact.
        assert.equal(validate.answer.response.allowed, true);
        assert.equal(validate.answer.response.patch, undefined);
        if (outcome.seenAfterValidate !== undefined) assert.equal(outcome.seenAfterValidate, 0, '/validate contacted the registry');

        const response = mutate.answer.response;
        const images = audit['images'] as LogLine[];
        if (fault.expect === 'pinned') {
          assert.equal(response.allowed, true);
          assert.deepEqual(patchOf(mutate.answer), [{ op: 'replace', path: '/spec/containers/0/image', value: `${p.image}@${digest}` }]);
          assert.equal(audit['decision'], 'patched');
          return;
        }
        const reason = String(images[0]?.['reason']);
        assert.equal(images[0]?.['verdict'], 'failed');
        assert.match(reason, fault.expect);
        assert.ok(reason.includes(p.host), `the reason names the registry ${p.host}: ${reason}`);
        for (const other of fault.alsoNames?.(env) ?? []) {
          assert.ok(reason.includes(other), `the reason names ${other}: ${reason}`);
        }
        assert.equal(response.patch, undefined);
        if (mode === 'deny') {
          assert.equal(response.allowed, false);
          assert.equal(response.status?.code, 403);
          const message = response.status?.message ?? '';
          assert.ok(message.includes(`/spec/containers/0/image "${p.image}": `), message);
          assert.ok(message.includes(reason), `the denial carries the reason: ${message}`);
          assert.equal(audit['decision'], 'denied');
        } else {
          assert.equal(response.allowed, true);
          const warning = response.warnings?.[0] ?? '';
          assert.ok(warning.startsWith(`${p.image} not pinned: `), warning);
          assert.equal(audit['decision'], 'warned');
        }
      });
    }
  }

  it('keeps /healthz answering OK while lookups hang, and afterwards', async () => {
    for (const mode of MODES) {
      const during = health.get(mode);
      assert.equal(during?.status, 200);
      assert.ok((during?.ms ?? Infinity) < 1000, `/healthz took ${String(during?.ms)} ms during the faults`);
      const afterwards = await (servers.get(mode) as TagpinServer).get('/healthz');
      assert.equal(afterwards.status, 200);
      assert.equal(afterwards.text, 'ok');
      assert.equal((servers.get(mode) as TagpinServer).stderr(), '', 'nothing on stderr');
    }
  });

  it('shows every failure in /metrics: a resolve error per registry with its code, and the admission decisions', () => {
    for (const mode of MODES) {
      const text = metrics.get(mode) ?? '';
      for (const p of prepared) {
        if (p.fault.expect === 'pinned' || p.fault.todo !== undefined) continue;
        const errors = sumSamples(text, 'tagpin_resolve_errors_total', { registry: p.host });
        assert.ok(errors >= 1, `${mode}: no tagpin_resolve_errors_total for ${p.fault.name} (${p.host})`);
      }
      const failing = CASES.filter((c) => c.expect !== 'pinned' && c.todo === undefined).length;
      const decision = mode === 'deny' ? 'denied' : 'warned';
      const counted = sample(text, 'tagpin_admission_requests_total', { webhook: 'mutate', decision }) ?? 0;
      assert.ok(counted >= failing, `${mode}: ${String(counted)} mutate decisions "${decision}" for ${String(failing)} failing registries`);
      assert.equal(sample(text, 'tagpin_admission_requests_total', { webhook: 'validate', decision: 'allowed' }), CASES.length);
    }
  });

  it('never connects to the link-local address: the refusal comes before any request', () => {
    for (const mode of MODES) {
      const text = metrics.get(mode) ?? '';
      assert.ok(!text.includes(LINK_LOCAL), `${mode}: /metrics shows traffic to ${LINK_LOCAL}`);
      assert.ok(sumSamples(text, 'tagpin_resolve_errors_total', { code: 'REGISTRY_FORBIDDEN_ADDRESS' }) >= 2);
    }
  });

  it('follows a redirect to another host without carrying credentials, and asks the other-host realm for a pull token', () => {
    const redirected = prepared.find((p) => p.fault.name === 'redirect to another host');
    assert.ok(redirected?.proxy !== undefined);
    assert.ok(redirected.proxy.requests().every((r) => r.fault === 'redirect'));
    const landed = elsewhere.requests();
    assert.ok(landed.length >= 2, 'both servers followed the redirect');
    assert.ok(landed.every((r) => r.authorization === undefined));
    const scopes = realm.requests().flatMap((r) => r.scope);
    assert.ok(scopes.length >= 2 && scopes.every((s) => s === 'repository:demo/app:pull'), scopes.join(' '));
  });

  it('asks a failing registry a bounded number of times: at most 3 tries per lookup', () => {
    for (const p of prepared) {
      if (p.proxy === undefined || p.fault.expect === 'pinned') continue;
      // Per server: one HEAD, maybe a GET, each tried at most 3 times; plus an anonymous try before credentials.
      const limit = MODES.length * 3 * 2;
      assert.ok(p.proxy.count() <= limit, `${p.fault.name}: ${String(p.proxy.count())} requests`);
    }
    const errors = prepared.filter((p) => /^50[023]$/.test(p.fault.name));
    for (const p of errors) assert.ok((p.proxy?.count() ?? 0) <= MODES.length * 3, `${p.fault.name}: ${String(p.proxy?.count())} requests`);
  });

  it('gives up on a registry asking to wait 30 s without waiting, and tries refused credentials once each', () => {
    const limited = prepared.find((p) => p.fault.name.startsWith('429'));
    for (const mode of MODES) assert.ok((limited?.outcomes.get(mode)?.mutate.ms ?? Infinity) < TIMEOUT_MS, 'waited for Retry-After');
    const refused = prepared.find((p) => p.fault.name.startsWith('401'));
    const sent = refused?.proxy?.requests().filter((r) => r.authorization !== undefined) ?? [];
    assert.ok(sent.length >= 2, 'each server presented the configured credentials');
    assert.ok(sent.length <= 4 * MODES.length, `${String(sent.length)} requests with credentials`);
  });
});

function printTable(prepared: readonly Prepared[]): void {
  const rows = ['| fault | onError | verdict | reason (excerpt) | /mutate ms | /validate ms | registry requests (both servers) |', '|---|---|---|---|---|---|---|'];
  for (const p of prepared) {
    for (const mode of MODES) {
      const outcome = p.outcomes.get(mode);
      if (outcome === undefined) continue;
      const images = outcome.audit['images'] as LogLine[];
      const reason = String(images[0]?.['reason'] ?? images[0]?.['pinned'] ?? '').replaceAll(p.host, '<registry>').replaceAll('|', '\\|');
      const excerpt = reason.length > 110 ? `${reason.slice(0, 107)}...` : reason;
      rows.push(`| ${p.fault.name} | ${mode} | ${String(outcome.audit['decision'])} | ${excerpt} | ${String(outcome.mutate.ms)} | ${String(outcome.validate.ms)} | ${p.proxy === undefined ? '-' : String(p.proxy.count())} |`);
    }
  }
  process.stdout.write(`${rows.join('\n')}\n`);
}
