// kubelet credential provider plugins as real programs (credentialprovider.kubelet.k8s.io/v1 over stdio), serving the real registry's logins.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import { createProviderKeyring, mergeKeyrings, parseProviderConfig } from '../../src/credentials/index.ts';
import type { Keyring, ProviderOptions } from '../../src/credentials/index.ts';
import { parseReference } from '../../src/reference/index.ts';
import type { Resolver } from '../../src/registry/index.ts';
import {
  credentialBench,
  isRunning,
  provider,
  providerLogin,
  providerResponse,
  writeProgram,
} from '../support/credential-helpers.ts';
import type { CredentialProgram, ProgramSpec } from '../support/credential-helpers.ts';
import { keyringFor } from '../support/servers.ts';
import { rejection, soon } from '../support/lookups.ts';
import type { TestRegistry } from '../support/registry.ts';
import { eventually } from '../support/wait.ts';

const FILE = '/etc/tagpin/credential-providers.yaml';

const bench = credentialBench();
const kit = bench.kit;
let basic: TestRegistry;
let token: TestRegistry;
let dir: string;
const digests = new Map<string, string>();

before(async () => {
  await bench.started();
  ({ basic, token, dir } = bench);
  for (const repo of ['private/app', 'private/api', 'private/db']) digests.set(`basic:${repo}`, await basic.push(repo, 'v1', 'oci-manifest'));
  digests.set('token:private', await token.push('private/app', 'v1', 'docker-list'));
});

let plugins = 0;
/** A plugin of its own per test, and the keyring of one provider running it. */
async function plugin(
  spec: ProgramSpec,
  matchImages: readonly string[],
  fields: Readonly<Record<string, unknown>> = {},
  options: ProviderOptions = {},
): Promise<{ readonly program: CredentialProgram; readonly keyring: Keyring; readonly name: string }> {
  plugins += 1;
  const name = `tagpin-test-plugin-${String(plugins)}`;
  const program = await writeProgram(dir, name, spec);
  const document = { apiVersion: 'kubelet.config.k8s.io/v1', kind: 'CredentialProviderConfig', providers: [provider(name, matchImages, fields)] };
  const keyring = createProviderKeyring({ file: FILE, binDir: dir, providers: parseProviderConfig(document, FILE) }, options);
  return { program, keyring, name };
}

async function resolveWith(keyring: Keyring, image: string, client: Resolver = kit.client()): Promise<string> {
  return (await client.resolve(parseReference(image), { deadline: soon(), keyring })).digest;
}

const lookup = (keyring: Keyring, image: string) => keyring.lookup(image, { deadline: soon() });

describe('the exec protocol', () => {
  it('sends a CredentialProviderRequest for the normalized image, with args and env, and pins with the answer', async () => {
    const { program, keyring } = await plugin({ default: providerLogin(basic), recordEnv: ['PLUGIN_SETTING', 'HOME'] }, [basic.host], {
      args: ['get-credentials', '--v=3'],
      env: [{ name: 'PLUGIN_SETTING', value: 'from-config' }],
    });
    assert.equal(await resolveWith(keyring, `${basic.host}/private/app:v1`), digests.get('basic:private/app'));
    const [run] = program.runs();
    assert.ok(run !== undefined);
    assert.deepEqual(run.argv, ['get-credentials', '--v=3']);
    assert.deepEqual(JSON.parse(run.input), { apiVersion: 'credentialprovider.kubelet.k8s.io/v1', kind: 'CredentialProviderRequest', image: `${basic.host}/private/app` });
    // The provider's env on top of tagpin's own environment, as kubelet does.
    assert.deepEqual(run.env, { PLUGIN_SETTING: 'from-config', HOME: process.env.HOME ?? null });
  });

  it('is not run for images its matchImages does not cover', async () => {
    const { program, keyring } = await plugin({ default: providerLogin(basic) }, ['*.dkr.ecr.*.amazonaws.com', `${basic.host}/other`]);
    assert.equal((await rejection(resolveWith(keyring, `${basic.host}/private/app:v1`))).code, 'REGISTRY_UNAUTHORIZED');
    assert.deepEqual(await lookup(keyring, '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app'), []);
    assert.equal(program.runs().length, 1, 'run for the ECR image only');
  });

  it('uses only the auth entries that match the image', async () => {
    const { keyring, name } = await plugin(
      { default: providerResponse({ auth: { 'other.example.com': { username: 'u', password: 'p' }, [`${basic.host}/private`]: { username: 'v', password: 'q' } } }) },
      [basic.host],
    );
    assert.deepEqual((await lookup(keyring, `${basic.host}/private/app`)).map((c) => [c.username, c.source]), [['v', `credential provider ${name}`]]);
    assert.deepEqual(await lookup(keyring, `${basic.host}/public/app`), []);
  });

  it('works against a Bearer registry: the login goes to the token realm', async () => {
    const { keyring } = await plugin({ default: providerLogin(token) }, [token.host]);
    assert.equal(await resolveWith(keyring, `${token.host}/private/app:v1`), digests.get('token:private'));
  });

  it('answers no credentials when the plugin has none (auth null)', async () => {
    const { keyring } = await plugin({ default: providerResponse({}) }, [basic.host]);
    assert.deepEqual(await lookup(keyring, `${basic.host}/private/app`), []);
  });
});

describe('caching, as kubelet does it', () => {
  it('cacheKeyType Registry: one run for every image of the registry', async () => {
    const { program, keyring } = await plugin({ default: providerLogin(basic, { cacheKeyType: 'Registry' }) }, [basic.host]);
    const client = kit.client();
    for (const repo of ['private/app', 'private/api', 'private/db', 'private/app']) {
      assert.equal(await resolveWith(keyring, `${basic.host}/${repo}:v1`, client), digests.get(`basic:${repo}`));
    }
    assert.equal(program.runs().length, 1);
  });

  it('cacheKeyType Image: one run per image', async () => {
    const { program, keyring } = await plugin({ default: providerLogin(basic, { cacheKeyType: 'Image' }) }, [basic.host]);
    for (const repo of ['private/app', 'private/api', 'private/app', 'private/api']) await lookup(keyring, `${basic.host}/${repo}`);
    assert.deepEqual(program.runs().map((run) => (JSON.parse(run.input) as { image: string }).image), [`${basic.host}/private/app`, `${basic.host}/private/api`]);
  });

  it('cacheKeyType Global: one run for every image the provider covers', async () => {
    const { program, keyring } = await plugin({ default: providerLogin(basic, { cacheKeyType: 'Global' }) }, [basic.host, 'r.example.com']);
    await lookup(keyring, `${basic.host}/private/app`);
    await lookup(keyring, 'r.example.com/team/app');
    assert.equal(program.runs().length, 1);
  });

  it('cacheDuration 0s: never cached, whatever defaultCacheDuration says', async () => {
    const { program, keyring } = await plugin({ default: providerLogin(basic, { cacheDuration: '0s' }) }, [basic.host], { defaultCacheDuration: '1h' });
    for (let i = 0; i < 3; i += 1) await lookup(keyring, `${basic.host}/private/app`);
    assert.equal(program.runs().length, 3);
  });

  it('no cacheDuration: defaultCacheDuration holds, and 0 there means no caching', async () => {
    const cached = await plugin({ default: providerLogin(basic) }, [basic.host], { defaultCacheDuration: '10m' });
    const uncached = await plugin({ default: providerLogin(basic) }, [basic.host], { defaultCacheDuration: '0s' });
    for (let i = 0; i < 3; i += 1) {
      await lookup(cached.keyring, `${basic.host}/private/app`);
      await lookup(uncached.keyring, `${basic.host}/private/app`);
    }
    assert.equal(cached.program.runs().length, 1);
    assert.equal(uncached.program.runs().length, 3);
  });

  it('concurrent lookups of one image share one run', async () => {
    const { program, keyring } = await plugin({ default: providerLogin(basic, { cacheDuration: '0s' }) }, [basic.host]);
    const found = await Promise.all(Array.from({ length: 5 }, () => lookup(keyring, `${basic.host}/private/app`)));
    assert.deepEqual(found.map((credentials) => credentials.length), [1, 1, 1, 1, 1]);
    assert.equal(program.runs().length, 1);
  });

  it('concurrent lookups of a registry\'s images share one run; an answer for one image only is asked again per image', async () => {
    const repos = ['private/app', 'private/api', 'private/db'];
    const registryWide = await plugin({ default: providerLogin(basic, { cacheKeyType: 'Registry' }) }, [basic.host]);
    const found = await Promise.all(repos.map((repo) => lookup(registryWide.keyring, `${basic.host}/${repo}`)));
    assert.deepEqual(found.map((credentials) => credentials.length), [1, 1, 1]);
    assert.equal(registryWide.program.runs().length, 1);

    const perImage = await plugin({ default: providerLogin(basic, { cacheKeyType: 'Image' }) }, [basic.host]);
    await Promise.all(repos.map((repo) => lookup(perImage.keyring, `${basic.host}/${repo}`)));
    const asked = perImage.program.runs().map((run) => (JSON.parse(run.input) as { image: string }).image);
    assert.deepEqual([...asked].sort(), repos.map((repo) => `${basic.host}/${repo}`).sort());
  });
});

describe('a plugin that fails', () => {
  it('names the plugin, its exit code, the first line of its stderr and the config entry', async () => {
    const { name, keyring } = await plugin({ default: { stderr: 'no IAM role\nstack trace…', stdout: 'leaked', exitCode: 1 } }, [basic.host]);
    const error = await rejection(resolveWith(keyring, `${basic.host}/private/app:v1`));
    assert.equal(error.code, 'REGISTRY_CREDENTIALS');
    assert.equal(error.message, `credential provider ${name} failed for ${basic.host}/private/app (exit 1: no IAM role) (providers[0] in ${FILE})`);
  });

  it('names the plugin when its file went missing after start-up', async () => {
    const { name, program, keyring } = await plugin({ default: providerLogin(basic) }, [basic.host]);
    await rm(program.path);
    const error = await rejection(resolveWith(keyring, `${basic.host}/private/app:v1`));
    assert.equal(error.code, 'REGISTRY_CREDENTIALS');
    assert.equal(error.message, `credential provider ${name} cannot run: ${program.path} not found; install the plugin there or remove the provider (providers[0] in ${FILE})`);
  });

  it('stops a plugin that does not answer in time', async () => {
    const { name, program, keyring } = await plugin({ default: { hang: true } }, [basic.host], {}, { timeoutMs: 300 });
    const error = await rejection(resolveWith(keyring, `${basic.host}/private/app:v1`));
    assert.equal(error.code, 'REGISTRY_CREDENTIALS');
    assert.equal(error.message, `credential provider ${name} did not answer within 0.3 s for ${basic.host}/private/app and was stopped (providers[0] in ${FILE})`);
    const [run] = program.runs();
    assert.ok(run !== undefined);
    await eventually(() => !isRunning(run.pid), `plugin process ${String(run.pid)} to be gone`);
  });

  it('refuses answers that are not a v1 CredentialProviderResponse, without quoting them', async () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ['{"password": "hunter2"', 'its output is not JSON'],
      [JSON.stringify({ apiVersion: 'credentialprovider.kubelet.k8s.io/v1beta1', kind: 'CredentialProviderResponse', cacheKeyType: 'Image' }), 'apiVersion is not credentialprovider.kubelet.k8s.io/v1'],
      [JSON.stringify({ apiVersion: 'credentialprovider.kubelet.k8s.io/v1', kind: 'CredentialProviderResponse', cacheKeyType: 'Node' }), 'cacheKeyType is not one of Image, Registry, Global'],
      [JSON.stringify({ apiVersion: 'credentialprovider.kubelet.k8s.io/v1', kind: 'CredentialProviderResponse', cacheKeyType: 'Image', cacheDuration: 'soon' }), 'cacheDuration is not a duration of 0 or more'],
      [JSON.stringify({ apiVersion: 'credentialprovider.kubelet.k8s.io/v1', kind: 'CredentialProviderResponse', cacheKeyType: 'Image', auth: { 'r.io': { username: 'u', password: 7 } } }), 'an auth entry has a username or password that is not a string'],
    ];
    for (const [stdout, what] of cases) {
      const { name, keyring } = await plugin({ default: { stdout } }, [basic.host]);
      const error = await rejection(lookup(keyring, `${basic.host}/private/app`));
      assert.equal(error.code, 'REGISTRY_CREDENTIALS');
      assert.equal(error.message, `credential provider ${name} answered ${basic.host}/private/app with no credentialprovider.kubelet.k8s.io/v1 CredentialProviderResponse: ${what} (providers[0] in ${FILE})`);
    }
  });
});

describe('plugin credentials and the digest cache', () => {
  it('a digest learned with a plugin\'s login is not served to a lookup without it', async () => {
    const { keyring } = await plugin({ default: providerLogin(basic) }, [basic.host]);
    const client = kit.client();
    assert.equal(await resolveWith(keyring, `${basic.host}/private/api:v1`, client), digests.get('basic:private/api'));
    const asked = basic.manifestRequests().length;
    const error = await rejection(client.resolve(parseReference(`${basic.host}/private/api:v1`), { deadline: soon() }));
    assert.equal(error.code, 'REGISTRY_UNAUTHORIZED');
    assert.deepEqual(basic.manifestRequests().slice(asked), [{ method: 'HEAD', path: '/v2/private/api/manifests/v1', status: 401 }]);
  });

  it('a digest learned with a pod\'s own credential is not served to a lookup holding only the plugin\'s: it asks with that', async () => {
    assert.ok(token.refreshToken !== undefined);
    const { keyring: node } = await plugin({ default: providerLogin(token) }, [token.host]);
    const pod = keyringFor(token.host, { identityToken: token.refreshToken, source: 'secret team/regcred', key: token.host });
    const client = kit.client();
    assert.equal(await resolveWith(mergeKeyrings(pod, node), `${token.host}/private/app:v1`, client), digests.get('token:private'));
    const asked = token.manifestRequests().length;
    assert.equal(await resolveWith(node, `${token.host}/private/app:v1`, client), digests.get('token:private'));
    const again = token.manifestRequests().slice(asked);
    assert.ok(again.length > 0, 'asked the registry again');
    assert.equal(again.at(-1)?.status, 200, 'and the plugin\'s login got the answer');
  });

  it('a rotated password is used at once: the old credential\'s digest is not served, the new one resolves', async () => {
    const { program, keyring } = await plugin({ default: providerLogin(basic, { cacheDuration: '0s' }) }, [basic.host]);
    const client = kit.client();
    assert.equal(await resolveWith(keyring, `${basic.host}/private/db:v1`, client), digests.get('basic:private/db'));
    await basic.rotatePassword();
    await program.behave({ default: providerLogin(basic, { cacheDuration: '0s' }) });
    const asked = basic.manifestRequests().length;
    assert.equal(await resolveWith(keyring, `${basic.host}/private/db:v1`, client), digests.get('basic:private/db'));
    assert.equal(basic.manifestRequests().slice(asked).at(-1)?.status, 200, 'the registry answered the new password');
    assert.equal(program.runs().length, 2);
  });
});
