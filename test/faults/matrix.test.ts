// The fault matrix: every registry fault × onError deny/allow, with the right verdict, the cause in the reason and the metric, and stalls abandoned.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegistryErrorCode } from '../../src/errors/index.ts';
import { writeDockerConfig } from '../support/docker-config.ts';
import type { DockerConfigEntry } from '../support/docker-config.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import type { Fault, FaultProxy } from '../support/fault-proxy.ts';
import { pod } from '../support/objects.ts';
import { createPki } from '../support/pki.ts';
import type { Pki } from '../support/pki.ts';
import { closedHost, portOf } from '../support/ports.ts';
import { sample, sumSamples } from '../support/prometheus.ts';
import { requireRegistryBinary, startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { admissionReview, patchOf } from '../support/reviews.ts';
import type { AdmissionAnswer } from '../support/reviews.ts';
import { startServe } from '../support/serve.ts';
import type { LogLine, TagpinServer } from '../support/serve.ts';
import { eventually } from '../support/wait.ts';

/**
 * The budget of each admission. The stalls below outlast it by far; every other row must finish well within
 * it even on a busy machine (a reset row makes four registry round trips and two backoffs), hence not shorter.
 */
const TIMEOUT_MS = 5000;
const LINK_LOCAL = '169.254.169.254';
const MODES = ['deny', 'allow'] as const;
type Mode = (typeof MODES)[number];

/** Where the images of one case point, and what answers there. */
interface Target {
  readonly host: string;
  /** The fault proxy in front of the registry, whose record shows what tagpin sent and how each exchange ended. */
  readonly proxy?: FaultProxy;
  /** The digest a pinned case must pin to. @default the plain registry's demo/app:v1 */
  readonly digest?: string;
  /** Reached over HTTPS (not listed in registries.insecure). */
  readonly secure?: boolean;
  /** Credentials the docker config holds for `host`. */
  readonly login?: DockerConfigEntry;
}

/** A row of the matrix: how to build the faulty registry, and what tagpin must make of it. */
interface FaultCase {
  readonly name: string;
  /** `pinned`, or the cause: what the reason must say and the error code counted in tagpin_resolve_errors_total. */
  readonly expect: 'pinned' | { readonly reason: RegExp; readonly code: RegistryErrorCode };
  /** A stall that outlasts resolve.timeoutMs: tagpin must hang up on each stalled exchange rather than wait it out. */
  readonly stalls?: true;
  /** Builds the registry the images of this case point at (a proxy, a closed port, a real registry). */
  readonly setup: (env: Environment) => Promise<Target>;
  /** Hosts besides the registry that the reason must name (a token realm, say). */
  readonly alsoNames?: (env: Environment) => readonly string[];
  /** A known gap, reported as todo rather than failing the suite. */
  readonly todo?: string;
}

interface Environment {
  readonly registry: TestRegistry;
  /** The real registry with the harness token issuer, whose realm is on another port than the registry. */
  readonly tokenRegistry: TestRegistry;
  readonly tokenDigest: string;
  readonly pki: Pki;
  /** A plain pass-through proxy reached as `localhost:PORT`: "another host" for redirects. */
  readonly elsewhere: FaultProxy;
  readonly realmDown: string;
  readonly proxy: (fault: Fault, tls?: { readonly wrongName?: boolean }) => Promise<FaultProxy>;
}

/** Faults in a body: the proxy's HEAD answers without Docker-Content-Digest, so tagpin meets them on its GET. */
const GET_SIDE = 'on GET';

const failing = (reason: RegExp, code: RegistryErrorCode): FaultCase['expect'] => ({ reason, code });

const CASES: readonly FaultCase[] = [
  { name: 'latency 200 ms (within budget)', expect: 'pinned', setup: viaProxy({ kind: 'latency', ms: 200 }) },
  {
    name: 'latency 60 s (beyond budget)',
    expect: failing(/timed out|within resolve\.timeoutMs/, 'REGISTRY_TIMEOUT'),
    stalls: true,
    setup: viaProxy({ kind: 'latency', ms: 60_000 }),
  },
  { name: 'connection refused (closed port)', expect: failing(/connection refused/, 'REGISTRY_NETWORK'), setup: async () => ({ host: await closedHost() }) },
  { name: `reset mid-response (${GET_SIDE})`, expect: failing(/reset|closed|socket/i, 'REGISTRY_NETWORK'), setup: viaProxy({ kind: 'reset' }) },
  { name: '500', expect: failing(/500 Internal Server Error/, 'REGISTRY_UNAVAILABLE'), setup: viaProxy({ kind: 'status', status: 500 }) },
  { name: '502', expect: failing(/502 Bad Gateway/, 'REGISTRY_UNAVAILABLE'), setup: viaProxy({ kind: 'status', status: 502 }) },
  { name: '503', expect: failing(/503 Service Unavailable/, 'REGISTRY_UNAVAILABLE'), setup: viaProxy({ kind: 'status', status: 503 }) },
  { name: '429 with Retry-After: 30', expect: failing(/rate limited/, 'REGISTRY_RATE_LIMITED'), setup: viaProxy({ kind: 'rate-limit', retryAfter: '30' }) },
  {
    name: '401 on every try (credentials configured)',
    expect: failing(/unauthorized: credentials from .* were rejected/, 'REGISTRY_UNAUTHORIZED'),
    setup: async (env) => {
      const proxy = await env.proxy({ kind: 'unauthorized' });
      return { host: proxy.host, proxy, login: { username: 'fault-user', password: 'fault-password' } };
    },
  },
  {
    name: `wrong Docker-Content-Digest (${GET_SIDE})`,
    expect: failing(/Docker-Content-Digest sha256:[0-9a-f]{64} .* hashes to sha256:/, 'REGISTRY_DIGEST_MISMATCH'),
    setup: viaProxy({ kind: 'wrong-digest' }),
  },
  {
    name: `Docker-Content-Digest missing, body altered (${GET_SIDE}, still a valid manifest)`,
    expect: failing(/hashes to sha256:[0-9a-f]{64}, which the registry does not know \(body altered in transit\?\)/, 'REGISTRY_DIGEST_MISMATCH'),
    setup: viaProxy({ kind: 'corrupt-body' }),
  },
  { name: `truncated body (${GET_SIDE})`, expect: failing(/closed|terminated|length|socket/i, 'REGISTRY_NETWORK'), setup: viaProxy({ kind: 'truncated' }) },
  { name: `10 MiB manifest (${GET_SIDE})`, expect: failing(/larger than 4 MiB/, 'REGISTRY_MANIFEST_TOO_LARGE'), setup: viaProxy({ kind: 'huge', bytes: 10 * 1024 * 1024 }) },
  {
    name: `body trickled at 1 byte/s (${GET_SIDE})`,
    expect: failing(/timed out|within resolve\.timeoutMs/, 'REGISTRY_TIMEOUT'),
    stalls: true,
    setup: viaProxy({ kind: 'trickle', bytesPerSecond: 1 }),
  },
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
    expect: failing(new RegExp(`refusing to contact ${LINK_LOCAL.replaceAll('.', '\\.')}.*link-local`), 'REGISTRY_FORBIDDEN_ADDRESS'),
    setup: viaProxy({ kind: 'redirect', to: `http://${LINK_LOCAL}` }),
  },
  {
    name: 'token realm on another port (Distribution with its token issuer)',
    expect: 'pinned',
    setup: async (env) => ({
      host: env.tokenRegistry.host,
      digest: env.tokenDigest,
      secure: true,
      login: { username: env.tokenRegistry.username ?? '', password: env.tokenRegistry.password ?? '' },
    }),
  },
  {
    name: 'token endpoint down',
    expect: failing(/cannot connect to .*connection refused/, 'REGISTRY_NETWORK'),
    setup: async (env) => {
      const proxy = await env.proxy({ kind: 'bearer', realm: `https://${env.realmDown}/token` });
      return { host: proxy.host, proxy };
    },
    alsoNames: (env) => [env.realmDown],
  },
  {
    name: `token realm on a link-local address (${LINK_LOCAL})`,
    expect: failing(new RegExp(`refusing to contact ${LINK_LOCAL.replaceAll('.', '\\.')}.*link-local`), 'REGISTRY_FORBIDDEN_ADDRESS'),
    setup: viaProxy({ kind: 'bearer', realm: `https://${LINK_LOCAL}/token` }),
  },
  {
    name: 'TLS certificate for the wrong name',
    expect: failing(/the certificate of 127\.0\.0\.1:\d+ is for wrong-name\.invalid, not 127\.0\.0\.1; use a name it covers/, 'REGISTRY_TLS'),
    setup: async (env) => {
      const proxy = await env.proxy({ kind: 'none' }, { wrongName: true });
      return { host: proxy.host, proxy, secure: true };
    },
  },
];

function viaProxy(fault: Fault): FaultCase['setup'] {
  return async (env) => {
    const proxy = await env.proxy(fault);
    return { host: proxy.host, proxy };
  };
}

/** What one server answered for one case. */
interface Outcome {
  readonly validate: AdmissionAnswer;
  readonly mutate: AdmissionAnswer;
  /** Requests the faulty registry had seen when /validate had answered on both servers. */
  readonly seenAfterValidate: number | undefined;
  readonly audit: LogLine;
}

interface Prepared {
  readonly fault: FaultCase;
  readonly target: Target;
  readonly image: string;
  readonly outcomes: Map<Mode, Outcome>;
}

describe('fault matrix: /mutate and /validate against misbehaving registries, onError deny and allow', () => {
  let registry: TestRegistry;
  let tokenRegistry: TestRegistry;
  let digest: string;
  let pki: Pki;
  let elsewhere: FaultProxy;
  let dir: string;
  let env: Environment;
  const proxies: FaultProxy[] = [];
  const servers = new Map<Mode, TagpinServer>();
  const prepared: Prepared[] = [];
  const health = new Map<Mode, { readonly status: number; readonly text: string }>();
  const metrics = new Map<Mode, string>();

  before(async () => {
    requireRegistryBinary();
    [registry, pki, dir] = await Promise.all([startRegistry('http'), createPki(), mkdtemp(join(tmpdir(), 'tagpin-faults-'))]);
    tokenRegistry = await startRegistry('token', { pki });
    digest = await registry.push('demo/app', 'v1', 'oci-manifest');
    const tokenDigest = await tokenRegistry.push('demo/app', 'v1', 'oci-manifest');
    const proxy = async (fault: Fault, tls?: { readonly wrongName?: boolean }): Promise<FaultProxy> => {
      const started = await startFaultProxy({ upstream: registry.baseUrl, fault, ...(tls === undefined ? {} : { tls: { pki, ...tls } }) });
      proxies.push(started);
      return started;
    };
    elsewhere = await proxy({ kind: 'none' });
    env = { registry, tokenRegistry, tokenDigest, pki, elsewhere, realmDown: await closedHost(), proxy };

    for (const fault of CASES) {
      const target = await fault.setup(env);
      prepared.push({ fault, target, image: `${target.host}/demo/app:v1`, outcomes: new Map() });
    }
    const plainHosts = [...prepared.filter((p) => p.target.secure !== true).map((p) => p.target.host), `localhost:${portOf(elsewhere.host)}`];
    // Credentials where a case wants them: the registry that refuses everyone (tagpin must try them, be
    // refused, and say so) and the token registry (the issuer grants demo/app only to its user).
    const logins = Object.fromEntries(prepared.flatMap((p) => (p.target.login === undefined ? [] : [[p.target.host, p.target.login]])));
    const registries = {
      insecure: plainHosts,
      // Every test host is loopback: listed so a guard that refuses unlisted loopback registries lets them through.
      allow: ['127.0.0.1', 'localhost'],
      caFile: pki.caFile,
      dockerConfig: await writeDockerConfig(dir, logins),
    };
    const started = await Promise.all(
      MODES.map((onError) => startServe({ config: { registries, resolve: { timeoutMs: TIMEOUT_MS, onError } } })),
    );
    MODES.forEach((mode, i) => servers.set(mode, started[i] as TagpinServer));

    // Every case at once against both servers; /healthz is asked while the 60 s latency holds a lookup of each server.
    const probe = (async () => {
      const latency = prepared.find((p) => p.fault.name.startsWith('latency 60 s'))?.target.proxy;
      await eventually(
        () => (latency?.requests() ?? []).filter((r) => r.ending === 'open').length >= MODES.length,
        'both servers to be held by the 60 s latency',
      );
      for (const mode of MODES) {
        const answer = await (servers.get(mode) as TagpinServer).get('/healthz');
        health.set(mode, { status: answer.status, text: answer.text });
      }
    })();
    await Promise.all([probe, ...prepared.map((p) => run(p))]);
    // A stalled exchange ends when tagpin hangs up; the proxy notices just after the answer has left.
    await eventually(() => proxies.every((p) => p.requests().every((r) => r.ending !== 'open')), 'every exchange with a fault proxy to end');
    for (const mode of MODES) metrics.set(mode, await (servers.get(mode) as TagpinServer).metrics());
    if (process.env['TAGPIN_FAULT_TABLE'] !== undefined) printTable(prepared);
  });

  async function run(p: Prepared): Promise<void> {
    const reviews = new Map(MODES.map((mode) => [mode, admissionReview({ object: pod([p.image]) })]));
    const server = (mode: Mode): TagpinServer => servers.get(mode) as TagpinServer;
    const validated = await Promise.all(MODES.map((mode) => server(mode).review('validate', reviews.get(mode))));
    const seenAfterValidate = p.target.proxy?.count();
    const mutated = await Promise.all(MODES.map((mode) => server(mode).review('mutate', reviews.get(mode))));
    for (const [i, mode] of MODES.entries()) {
      const mutate = mutated[i] as AdmissionAnswer;
      p.outcomes.set(mode, {
        validate: validated[i] as AdmissionAnswer,
        mutate,
        seenAfterValidate,
        audit: await server(mode).auditFor(mutate.response.uid),
      });
    }
  }

  after(async () => {
    await Promise.all([...servers.values()].map((s) => s.stop()));
    await Promise.all(proxies.map((p) => p.close()));
    await Promise.all([registry?.stop(), tokenRegistry?.stop()]);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    if (pki !== undefined) await rm(pki.dir, { recursive: true, force: true });
  });

  const find = (fault: FaultCase): Prepared => {
    const p = prepared.find((x) => x.fault === fault);
    assert.ok(p !== undefined, `${fault.name} was prepared`);
    return p;
  };

  for (const fault of CASES) {
    for (const mode of MODES) {
      const verdict = fault.expect === 'pinned' ? 'pinned' : mode === 'deny' ? 'denied with the cause' : 'admitted unchanged with a warning';
      it(`${fault.name}, onError ${mode}: ${verdict}`, fault.todo === undefined ? {} : { todo: fault.todo }, () => {
        const p = find(fault);
        const outcome = p.outcomes.get(mode);
        assert.ok(outcome !== undefined, 'the case ran');
        const { mutate, validate, audit } = outcome;

        // /validate judges the reference only: allowed (v1 is no violation), no registry contact.
        assert.equal(validate.response.allowed, true);
        assert.equal(validate.response.patch, undefined);
        if (outcome.seenAfterValidate !== undefined) assert.equal(outcome.seenAfterValidate, 0, '/validate contacted the registry');

        const response = mutate.response;
        const images = audit['images'] as LogLine[];
        if (fault.expect === 'pinned') {
          assert.equal(response.allowed, true);
          assert.deepEqual(patchOf(mutate), [{ op: 'replace', path: '/spec/containers/0/image', value: `${p.image}@${p.target.digest ?? digest}` }]);
          assert.equal(audit['decision'], 'patched');
          return;
        }
        const reason = String(images[0]?.['reason']);
        assert.equal(images[0]?.['verdict'], 'failed');
        assert.match(reason, fault.expect.reason);
        assert.ok(reason.includes(p.target.host), `the reason names the registry ${p.target.host}: ${reason}`);
        for (const other of fault.alsoNames?.(env) ?? []) {
          assert.ok(reason.includes(other), `the reason names ${other}: ${reason}`);
        }
        const errors = sumSamples(metrics.get(mode) ?? '', 'tagpin_resolve_errors_total', { registry: p.target.host, code: fault.expect.code });
        assert.ok(errors >= 1, `tagpin_resolve_errors_total counts ${fault.expect.code} for ${p.target.host}`);
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

  for (const fault of CASES.filter((c) => c.stalls === true)) {
    it(`${fault.name}: tagpin hangs up on every stalled exchange instead of waiting it out`, () => {
      const requests = find(fault).target.proxy?.requests() ?? [];
      const stalled = requests.filter((r) => r.ending !== 'answered');
      assert.ok(stalled.length >= MODES.length, `each server met the stall: ${JSON.stringify(requests)}`);
      assert.deepEqual(stalled.map((r) => r.ending), stalled.map(() => 'abandoned'), JSON.stringify(requests));
    });
  }

  it('sends no request over a TLS connection whose certificate names another host', () => {
    const wrongName = prepared.find((p) => p.fault.name === 'TLS certificate for the wrong name');
    assert.equal(wrongName?.target.proxy?.count(), 0);
  });

  it('keeps /healthz answering OK while lookups hang, and afterwards', async () => {
    for (const mode of MODES) {
      assert.deepEqual(health.get(mode), { status: 200, text: 'ok' }, `${mode}: /healthz during the stalls`);
      const afterwards = await (servers.get(mode) as TagpinServer).get('/healthz');
      assert.equal(afterwards.status, 200);
      assert.equal(afterwards.text, 'ok');
      assert.equal((servers.get(mode) as TagpinServer).stderr(), '', 'nothing on stderr');
    }
  });

  it('counts the admission decisions in /metrics: a failure per failing registry, every /validate allowed', () => {
    for (const mode of MODES) {
      const text = metrics.get(mode) ?? '';
      const failingCount = CASES.filter((c) => c.expect !== 'pinned' && c.todo === undefined).length;
      const decision = mode === 'deny' ? 'denied' : 'warned';
      const counted = sample(text, 'tagpin_admission_requests_total', { webhook: 'mutate', decision }) ?? 0;
      assert.equal(counted, failingCount, `${mode}: mutate decisions "${decision}"`);
      assert.equal(sample(text, 'tagpin_admission_requests_total', { webhook: 'mutate', decision: 'patched' }), CASES.length - failingCount);
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

  it('follows a redirect to another host without carrying credentials', () => {
    const redirected = prepared.find((p) => p.fault.name === 'redirect to another host');
    assert.ok(redirected?.target.proxy !== undefined);
    assert.ok(redirected.target.proxy.requests().every((r) => r.fault === 'redirect'));
    const landed = elsewhere.requests();
    assert.ok(landed.length >= MODES.length, 'both servers followed the redirect');
    assert.ok(landed.every((r) => r.authorization === undefined));
  });

  it("asks the registry's token realm for a pull token, anonymously first, then with the configured login", () => {
    const asked = tokenRegistry.tokenRequests();
    assert.ok(asked.length >= 2 * MODES.length, JSON.stringify(asked));
    assert.ok(asked.every((r) => r.scope === 'repository:demo/app:pull'), JSON.stringify(asked));
    assert.equal(asked.filter((r) => r.authenticated).length, MODES.length, 'one authenticated token request per server');
    const pulled = tokenRegistry.manifestRequests().filter((r) => r.path === '/v2/demo/app/manifests/v1' && r.status === 200);
    assert.equal(pulled.length, MODES.length, 'each server then got the manifest from the registry itself');
  });

  it('asks a failing registry a bounded number of times: at most 3 tries per lookup', () => {
    for (const p of prepared) {
      if (p.target.proxy === undefined || p.fault.expect === 'pinned') continue;
      // Per server: one HEAD, maybe a GET, each tried at most 3 times; plus an anonymous try before credentials.
      const limit = MODES.length * 3 * 2;
      assert.ok(p.target.proxy.count() <= limit, `${p.fault.name}: ${String(p.target.proxy.count())} requests`);
    }
    const errors = prepared.filter((p) => /^50[023]$/.test(p.fault.name));
    for (const p of errors) assert.ok((p.target.proxy?.count() ?? 0) <= MODES.length * 3, `${p.fault.name}: ${String(p.target.proxy?.count())} requests`);
  });

  it('gives up on a registry asking to wait 30 s without waiting, and tries refused credentials once each', () => {
    const limited = prepared.find((p) => p.fault.name.startsWith('429'));
    // A retry after 30 s cannot fit the budget: one request per server, and no retry counted.
    assert.equal(limited?.target.proxy?.count(), MODES.length, JSON.stringify(limited?.target.proxy?.requests()));
    for (const mode of MODES) {
      assert.equal(sumSamples(metrics.get(mode) ?? '', 'tagpin_registry_retries_total', { registry: limited?.target.host ?? '' }), 0, `${mode}: retried`);
    }
    const refused = prepared.find((p) => p.fault.name.startsWith('401'));
    const sent = refused?.target.proxy?.requests().filter((r) => r.authorization !== undefined) ?? [];
    assert.ok(sent.length >= MODES.length, 'each server presented the configured credentials');
    assert.ok(sent.length <= 4 * MODES.length, `${String(sent.length)} requests with credentials`);
  });
});

function printTable(prepared: readonly Prepared[]): void {
  const rows = ['| fault | onError | verdict | reason (excerpt) | registry requests (both servers), by how they ended |', '|---|---|---|---|---|'];
  for (const p of prepared) {
    for (const mode of MODES) {
      const outcome = p.outcomes.get(mode);
      if (outcome === undefined) continue;
      const images = outcome.audit['images'] as LogLine[];
      const reason = String(images[0]?.['reason'] ?? images[0]?.['pinned'] ?? '').replaceAll(p.target.host, '<registry>').replaceAll('|', '\\|');
      const excerpt = reason.length > 110 ? `${reason.slice(0, 107)}...` : reason;
      const endings = p.target.proxy?.requests().map((r) => `${r.method} ${r.ending}`).join(', ') ?? '-';
      rows.push(`| ${p.fault.name} | ${mode} | ${String(outcome.audit['decision'])} | ${excerpt} | ${endings} |`);
    }
  }
  process.stdout.write(`${rows.join('\n')}\n`);
}
