// Nothing secret in logs: auth, fault and admission scenarios with known credentials and tokens, then every output line scanned.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { helperLogin, pathWith, provider, writeProgram, writeProviderConfig } from '../support/credential-helpers.ts';
import type { CredentialProgram } from '../support/credential-helpers.ts';
import { writeDockerConfig } from '../support/docker-config.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import type { FaultChoice, FaultProxy } from '../support/fault-proxy.ts';
import { startFakeKube } from '../support/fake-kube.ts';
import type { FakeKube } from '../support/fake-kube.ts';
import { pod } from '../support/objects.ts';
import { repoRoot } from '../support/paths.ts';
import { createPki } from '../support/pki.ts';
import type { Pki } from '../support/pki.ts';
import { closedHost } from '../support/ports.ts';
import { requireRegistryBinary, startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { admissionReview, patchOf } from '../support/reviews.ts';
import { startServe } from '../support/serve.ts';
import type { TagpinServer } from '../support/serve.ts';

const run = promisify(execFile);

/** A value that must never be logged, with the encodings it could be logged in. */
interface Secret {
  readonly what: string;
  readonly forms: readonly string[];
}

function secret(what: string, value: string): Secret {
  const b64 = Buffer.from(value, 'utf8').toString('base64').replace(/=+$/, '');
  const b64url = Buffer.from(value, 'utf8').toString('base64url');
  return { what, forms: [...new Set([value, b64, b64url])] };
}

/** A password, alone and as the base64 `user:pass` of Basic auth and docker `auth` fields. */
function login(what: string, username: string, password: string): Secret[] {
  return [secret(`${what} password`, password), secret(`${what} user:password`, `${username}:${password}`)];
}

/** A bearer token (a JWT, or an opaque one): the whole of it and, for a JWT, its signature on its own. */
function token(what: string, value: string): Secret {
  const parts = value.split('.');
  const signature = parts.length === 3 ? parts[2] : undefined;
  const base = secret(what, value);
  return signature === undefined || signature.length < 16 ? base : { what, forms: [...base.forms, signature] };
}

describe('nothing secret in logs', () => {
  let pki: Pki;
  let basic: TestRegistry;
  let tokenRegistry: TestRegistry;
  let kube: FakeKube;
  let dir: string;
  const proxies: FaultProxy[] = [];
  const servers: TagpinServer[] = [];
  const cliOutput: string[] = [];
  const faultPassword = `fault-${randomBytes(12).toString('base64url')}`;
  const downPassword = `down-${randomBytes(12).toString('base64url')}`;
  const envMarker = `env-${randomBytes(12).toString('base64url')}`;
  /** Letters only, so a parser meets it as one bare token and quotes from its first character on. */
  const bareMarker = `Z${Array.from(randomBytes(20), (b) => String.fromCharCode(97 + (b % 26))).join('')}`;
  const fronts: Record<string, FaultProxy> = {};
  const digests = new Map<string, string>();
  /** What credential helpers and plugins print on stdout, in broken answers and failed runs. */
  const helperSecret = `helper-${randomBytes(12).toString('base64url')}`;
  const pluginSecret = `plugin-${randomBytes(12).toString('base64url')}`;
  const programs: CredentialProgram[] = [];

  before(async () => {
    requireRegistryBinary();
    pki = await createPki();
    dir = await mkdtemp(join(tmpdir(), 'tagpin-secrets-'));
    [basic, tokenRegistry, kube] = await Promise.all([startRegistry('basic', { pki }), startRegistry('token', { pki }), startFakeKube({ pki })]);
    digests.set('basic', await basic.push('private/app', 'v1', 'oci-manifest'));
    digests.set('token', await tokenRegistry.push('private/app', 'v1', 'oci-index'));

    const front = async (name: string, upstream: TestRegistry, fault: FaultChoice, wrongName = false): Promise<void> => {
      const started = await startFaultProxy({ upstream: upstream.baseUrl, upstreamCa: pki.caPem, fault, tls: { pki, wrongName } });
      proxies.push(started);
      fronts[name] = started;
    };
    // Pass-through fronts capture every Authorization header tagpin sends: the minted tokens among them.
    await front('basic', basic, { kind: 'none' });
    await front('tokenPassword', tokenRegistry, { kind: 'none' });
    await front('tokenIdentity', tokenRegistry, { kind: 'none' });
    await front('unauthorized', basic, { kind: 'unauthorized' });
    await front('realmDown', basic, { kind: 'bearer', realm: `https://${await closedHost()}/token` });
    await front('wrongName', basic, { kind: 'none' }, true);
    await front('redirect', basic, { kind: 'redirect', to: `https://${basic.host}` });

    const user = basic.username ?? '';
    const dockerConfig = await writeDockerConfig(dir, {
      [host('basic')]: { username: user, password: basic.password ?? '' },
      [host('tokenPassword')]: { username: tokenRegistry.username ?? '', password: tokenRegistry.password ?? '' },
      [host('tokenIdentity')]: { identitytoken: tokenRegistry.refreshToken ?? '' },
      [host('unauthorized')]: { username: 'someone', password: faultPassword },
      [host('realmDown')]: { username: 'someone', password: downPassword },
      [host('wrongName')]: { username: user, password: basic.password ?? '' },
      [host('redirect')]: { username: user, password: basic.password ?? '' },
    });
    // The namespace "team" holds a pull secret for the Basic registry itself; "other" holds nothing.
    const auth = Buffer.from(`${user}:${basic.password ?? ''}`).toString('base64');
    kube.addSecret('team', 'regcred', 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': JSON.stringify({ auths: { [basic.host]: { auth } } }) });
    kube.addServiceAccount('team', 'default', []);
    kube.addServiceAccount('other', 'default', []);

    const registries = { caFile: pki.caFile, dockerConfig, allow: ['127.0.0.1', 'localhost'] };
    for (const onError of ['deny', 'allow'] as const) {
      servers.push(
        await startServe({
          config: { registries, resolve: { timeoutMs: 4000, onError }, cache: { ttlSeconds: 0 } },
          env: { KUBECONFIG: kube.kubeconfigFile, TAGPIN_LOG_LEVEL: 'trace' },
        }),
      );
    }

    const scenarios = [
      { image: `${basic.host}/private/app:v1`, namespace: 'team', pullSecret: true },
      { image: `${basic.host}/private/app:v1`, namespace: 'other', pullSecret: false },
      ...Object.keys(fronts).map((name) => ({ image: `${host(name)}/private/app:v1`, namespace: 'demo', pullSecret: false })),
    ];
    for (const server of servers) {
      for (const scenario of scenarios) {
        const object = pod([scenario.image], { namespace: scenario.namespace, env: [{ name: 'API_KEY', value: envMarker }] });
        if (scenario.pullSecret) (object['spec'] as Record<string, unknown>)['imagePullSecrets'] = [{ name: 'regcred' }];
        const review = admissionReview({ object });
        const answer = await server.review('mutate', review);
        results.push({ image: scenario.image, namespace: scenario.namespace, allowed: answer.response.allowed, patch: patchOf(answer) });
        await server.review('validate', review);
      }
      // Bad input that carries a secret-looking value where tagpin quotes nothing back.
      await server.post('/mutate', { ...admissionReview({ object: pod(['x'], { env: [{ name: 'API_KEY', value: envMarker }] }) }), request: { object: { env: envMarker } } });
      for (const broken of [`{"request":{"uid":"u","object":{"k":"${envMarker}"`, `{"request":{"object":{"k": ${bareMarker}}}}`, `{"k":"${envMarker}"}}`]) {
        await server.post('/mutate', broken, { 'content-type': 'application/json' });
      }
    }

    // The CLI with the same credentials, failing and succeeding, with debug details on.
    const cliConfig = join(dir, 'cli.yaml');
    await writeFile(cliConfig, stringify({ registries, resolve: { timeoutMs: 4000 } }));
    for (const name of ['tokenPassword', 'tokenIdentity', 'unauthorized', 'realmDown']) {
      const output = await run(process.execPath, ['src/main.ts', 'resolve', '--config', cliConfig, `${host(name)}/private/app:v1`], {
        cwd: repoRoot,
        env: { ...process.env, TAGPIN_DEBUG: '1' },
        timeout: 20_000,
      }).catch((error: unknown) => error as { stdout: string; stderr: string });
      cliOutput.push(output.stdout, output.stderr);
    }

    // The CLI with credential helpers and a provider plugin: one that works, and ones that print
    // their secret where the protocol's answer should be, or on stdout of a failed run.
    programs.push(
      await writeProgram(dir, 'docker-credential-secrets-ok', { default: helperLogin(basic) }),
      await writeProgram(dir, 'docker-credential-secrets-broken', { default: { stdout: `{"Username":"u","Secret":"${helperSecret}"` } }),
      await writeProgram(dir, 'docker-credential-secrets-failing', { default: { stdout: helperSecret, stderr: 'no keychain\n', exitCode: 1 } }),
      await writeProgram(dir, 'secrets-plugin', { default: { stdout: `{"auth":{"x":{"password":"${pluginSecret}"}}`, exitCode: 1 } }),
    );
    const helperHosts = { 'secrets-ok': basic.host, 'secrets-broken': host('wrongName'), 'secrets-failing': host('redirect') };
    const helperConfig = join(dir, 'helpers.json');
    await writeFile(helperConfig, JSON.stringify({ credHelpers: Object.fromEntries(Object.entries(helperHosts).map(([name, h]) => [h, name])) }));
    const providers = await writeProviderConfig(dir, [provider('secrets-plugin', [host('unauthorized')])]);
    const programConfig = join(dir, 'programs.yaml');
    await writeFile(
      programConfig,
      stringify({ registries: { caFile: pki.caFile, allow: ['127.0.0.1', 'localhost'], dockerConfig: helperConfig, credentialProviders: { config: providers, binDir: dir } } }),
    );
    for (const image of [...Object.values(helperHosts), host('unauthorized')].map((h) => `${h}/private/app:v1`)) {
      const output = await run(process.execPath, ['src/main.ts', 'resolve', '--config', programConfig, image], {
        cwd: repoRoot,
        env: { ...process.env, TAGPIN_DEBUG: '1', PATH: pathWith(dir) },
        timeout: 20_000,
      }).catch((error: unknown) => error as { stdout: string; stderr: string });
      cliOutput.push(output.stdout, output.stderr);
    }
  });

  const results: Array<{ image: string; namespace: string; allowed: boolean; patch: ReturnType<typeof patchOf> }> = [];

  function host(name: string): string {
    const found = fronts[name];
    if (found === undefined) throw new Error(`no front ${name}`);
    return found.host;
  }

  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await Promise.all(proxies.map((p) => p.close()));
    await Promise.all([basic?.stop(), tokenRegistry?.stop(), kube?.stop()]);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** True when every answer for `image` in `namespace` pinned it to the digest `registry` reported at push. */
  function pinned(image: string, registry: string, namespace = 'demo'): boolean {
    const answers = results.filter((r) => r.image === image && r.namespace === namespace);
    return answers.length === servers.length && answers.every((r) => r.patch[0]?.value === `${image}@${digests.get(registry) ?? ''}`);
  }

  it('ran the scenarios for real: credentials and tokens were used and pins came back', () => {
    assert.ok(pinned(`${basic.host}/private/app:v1`, 'basic', 'team'), 'the pull secret unlocked the Basic registry');
    assert.ok(results.filter((r) => r.namespace === 'other').every((r) => r.patch.length === 0), 'no secret, no pin');
    const upstreams = { basic: 'basic', tokenPassword: 'token', tokenIdentity: 'token' } as const;
    for (const [name, registry] of Object.entries(upstreams)) {
      assert.ok(pinned(`${host(name)}/private/app:v1`, registry), `${name} pinned`);
    }
    const bearer = capturedBearerTokens();
    assert.ok(bearer.length >= 2, 'tokens from the issuer were captured');
    assert.ok(tokenRegistry.tokenRequests().some((r) => r.authenticated), 'the token issuer granted tokens for credentials');
    assert.ok((fronts['unauthorized']?.requests() ?? []).some((r) => r.authorization?.startsWith('Basic ')), 'refused credentials were sent');
    assert.ok(kube.requests() > 0, 'the pull secret was read from the API');
    assert.ok(cliOutput.join('').includes('@sha256:'), 'the CLI resolved an image');
    assert.deepEqual(programs.map((p) => p.runs().length), [1, 1, 1, 1], 'every helper and the plugin ran once');
    for (const failure of ['docker-credential-secrets-broken get printed something', 'docker-credential-secrets-failing get failed', 'credential provider secrets-plugin failed']) {
      assert.ok(cliOutput.join('').includes(failure), `reported: ${failure}`);
    }
  });

  function capturedBearerTokens(): string[] {
    return proxies.flatMap((p) => p.requests()).map((r) => /^Bearer (\S+)$/.exec(r.authorization ?? '')?.[1]).filter((t): t is string => t !== undefined);
  }

  it('writes no password, token, refresh token, pull secret or env value to stdout or stderr, plain or base64', () => {
    const secrets: Secret[] = [
      ...login('Basic registry', basic.username ?? '', basic.password ?? ''),
      ...login('token registry', tokenRegistry.username ?? '', tokenRegistry.password ?? ''),
      ...login('refused', 'someone', faultPassword),
      ...login('down realm', 'someone', downPassword),
      secret('identity token', tokenRegistry.refreshToken ?? ''),
      secret('Kubernetes API token', kube.token),
      secret('pod env value', envMarker),
      secret('a credential helper\'s stdout', helperSecret),
      secret('a credential provider plugin\'s stdout', pluginSecret),
      ...capturedBearerTokens().map((t) => token('bearer token sent to a registry', t)),
      ...proxies.flatMap((p) => p.requests()).map((r) => /^Basic (\S+)$/.exec(r.authorization ?? '')?.[1]).filter((b): b is string => b !== undefined).map((b) => token('Basic header sent to a registry', b)),
    ];
    for (const s of secrets) assert.ok(s.forms.every((f) => f.length >= 8), `${s.what} is long enough to search for`);

    const outputs: Array<{ readonly source: string; readonly text: string }> = [];
    for (const [i, server] of servers.entries()) {
      for (const line of server.lines()) outputs.push({ source: `serve#${String(i)} stdout`, text: JSON.stringify(line) });
      outputs.push({ source: `serve#${String(i)} stderr`, text: server.stderr() });
    }
    for (const text of cliOutput) outputs.push({ source: 'cli', text });
    assert.ok(outputs.length > 40, `only ${String(outputs.length)} outputs to scan`);

    const leaks: string[] = [];
    for (const { source, text } of outputs) {
      for (const s of secrets) {
        if (s.forms.some((form) => text.includes(form))) leaks.push(`${s.what} in ${source}: ${text.slice(0, 200)}`);
      }
    }
    assert.deepEqual(leaks, []);
  });

  it('quotes no fragment of a malformed body back into the log (parser messages included)', () => {
    // Any 8 characters in a row of the marker would be a piece of whatever the body held there.
    const fragments = Array.from({ length: bareMarker.length - 7 }, (_, i) => bareMarker.slice(i, i + 8));
    for (const server of servers) {
      const rejected = server.lines().filter((line) => line['msg'] === 'request rejected');
      assert.ok(rejected.length >= 4, 'the malformed bodies were rejected and logged');
      for (const line of server.lines()) {
        const text = JSON.stringify(line);
        assert.ok(!fragments.some((f) => text.includes(f)), `a piece of the body was logged: ${text}`);
      }
    }
  });
});
