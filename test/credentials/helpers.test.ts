// docker credential helpers (credHelpers, credsStore) as real programs, serving the real registry's logins.
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { dockerConfigKeyring } from '../../src/credentials/index.ts';
import type { HelperOptions, Keyring } from '../../src/credentials/index.ts';
import { InputError } from '../../src/errors/index.ts';
import { parseReference } from '../../src/reference/index.ts';
import {
  credentialBench,
  helperAnswer,
  helperLogin,
  helperNotFound,
  isRunning,
  pathWith,
  writeProgram,
} from '../support/credential-helpers.ts';
import { rejection, soon } from '../support/lookups.ts';
import type { TestRegistry } from '../support/registry.ts';
import { eventually } from '../support/wait.ts';

const CONFIG = '/home/dev/.docker/config.json';

const bench = credentialBench();
const kit = bench.kit;
let basic: TestRegistry;
let token: TestRegistry;
let dir: string;
const digests = new Map<string, string>();

before(async () => {
  await bench.started();
  ({ basic, token, dir } = bench);
  for (const tag of ['v1', 'v2', 'v3', 'v4', 'v5']) digests.set(`basic:${tag}`, await basic.push('private/app', tag, 'oci-manifest'));
  digests.set('token:private', await token.push('private/app', 'v1', 'oci-index'));
  digests.set('token:public', await token.push('public/app', 'v1', 'oci-manifest'));
});

/** A helper name of its own per test, so the run logs of tests never mix. */
let helpers = 0;
function uniqueName(): string {
  helpers += 1;
  return `tagpin-test-${String(process.pid)}-${String(helpers)}`;
}

function keyringOf(config: unknown, options: HelperOptions = {}): Keyring {
  return dockerConfigKeyring(config, CONFIG, { env: { ...process.env, PATH: pathWith(dir) }, ...options });
}

async function resolveWith(keyring: Keyring, image: string): Promise<string> {
  const resolved = await kit.client().resolve(parseReference(image), { deadline: soon(), keyring });
  return resolved.digest;
}

describe('credHelpers', () => {
  it('runs docker-credential-NAME get with the registry host on stdin and pins with its login', async () => {
    const name = uniqueName();
    const helper = await writeProgram(dir, `docker-credential-${name}`, { default: helperLogin(basic) });
    const keyring = keyringOf({ credHelpers: { [basic.host]: name } });
    assert.equal(await resolveWith(keyring, `${basic.host}/private/app:v1`), digests.get('basic:v1'));
    assert.deepEqual(helper.runs().map((run) => [run.argv, run.input]), [[['get'], basic.host]]);
  });

  it('runs the helper once for many lookups of its registry, and once for lookups that overlap', async () => {
    const name = uniqueName();
    const helper = await writeProgram(dir, `docker-credential-${name}`, { default: helperLogin(basic) });
    const keyring = keyringOf({ credHelpers: { [basic.host]: name } });
    const client = kit.client();
    const tags = ['v1', 'v2', 'v3', 'v4', 'v5'];
    const together = await Promise.all(tags.map((tag) => client.resolve(parseReference(`${basic.host}/private/app:${tag}`), { deadline: soon(), keyring })));
    assert.deepEqual(together.map((r) => r.digest), tags.map((tag) => digests.get(`basic:${tag}`)));
    for (const tag of tags) assert.equal(await resolveWith(keyring, `${basic.host}/private/app:${tag}`), digests.get(`basic:${tag}`));
    assert.equal(helper.runs().length, 1);
  });

  it('passes an identity token (Username <token>) through the token realm\'s refresh-token grant', async () => {
    assert.ok(token.refreshToken !== undefined);
    const name = uniqueName();
    await writeProgram(dir, `docker-credential-${name}`, { default: helperAnswer(token.host, '<token>', token.refreshToken) });
    const keyring = keyringOf({ credHelpers: { [token.host]: name } });
    const asked = token.tokenRequests().length;
    assert.equal(await resolveWith(keyring, `${token.host}/private/app:v1`), digests.get('token:private'));
    assert.ok(token.tokenRequests().slice(asked).some((r) => r.method === 'POST' && r.authenticated), 'the refresh token was exchanged with POST');
  });

  it('owns its registry: the auths entry for the same host is not used', async () => {
    const name = uniqueName();
    const helper = await writeProgram(dir, `docker-credential-${name}`, { default: helperNotFound });
    const login = Buffer.from(`${basic.username ?? ''}:${basic.password ?? ''}`).toString('base64');
    const keyring = keyringOf({ auths: { [basic.host]: { auth: login } }, credHelpers: { [basic.host]: name } });
    const error = await rejection(resolveWith(keyring, `${basic.host}/private/app:v1`));
    assert.equal(error.code, 'REGISTRY_UNAUTHORIZED');
    assert.equal(helper.runs().length, 1);
  });
});

describe('credsStore', () => {
  it('answers for a registry without an auths entry or helper of its own', async () => {
    const name = uniqueName();
    const store = await writeProgram(dir, `docker-credential-${name}`, { default: helperLogin(basic) });
    const keyring = keyringOf({ auths: { 'other.example.com': {} }, credsStore: name });
    assert.equal(await resolveWith(keyring, `${basic.host}/private/app:v2`), digests.get('basic:v2'));
    assert.deepEqual(store.runs().map((run) => run.input), [basic.host]);
  });

  it('is not asked for a registry whose auths entry holds a login', async () => {
    const name = uniqueName();
    const store = await writeProgram(dir, `docker-credential-${name}`, { default: { stderr: 'must not run', exitCode: 1 } });
    const login = Buffer.from(`${basic.username ?? ''}:${basic.password ?? ''}`).toString('base64');
    const keyring = keyringOf({ auths: { [basic.host]: { auth: login } }, credsStore: name });
    assert.equal(await resolveWith(keyring, `${basic.host}/private/app:v3`), digests.get('basic:v3'));
    assert.equal(store.runs().length, 0);
  });

  it('gives way to credHelpers for the helper\'s registry', async () => {
    const storeName = uniqueName();
    const helperName = uniqueName();
    const store = await writeProgram(dir, `docker-credential-${storeName}`, { default: helperNotFound });
    const helper = await writeProgram(dir, `docker-credential-${helperName}`, { default: helperLogin(basic) });
    const keyring = keyringOf({ credsStore: storeName, credHelpers: { [basic.host]: helperName } });
    assert.equal(await resolveWith(keyring, `${basic.host}/private/app:v4`), digests.get('basic:v4'));
    assert.equal(helper.runs().length, 1);
    assert.equal(store.runs().length, 0);
  });

  it('hands Docker Hub images over as https://index.docker.io/v1/, as docker does', async () => {
    const name = uniqueName();
    const store = await writeProgram(dir, `docker-credential-${name}`, { default: helperNotFound });
    const found = await keyringOf({ credsStore: name }).lookup('docker.io/library/nginx', { deadline: soon() });
    assert.deepEqual(found, []);
    assert.deepEqual(store.runs().map((run) => run.input), ['https://index.docker.io/v1/']);
  });
});

describe('a helper that has nothing, or fails', () => {
  it('"credentials not found" means anonymous, and the answer is reused too', async () => {
    const name = uniqueName();
    const helper = await writeProgram(dir, `docker-credential-${name}`, { default: helperNotFound });
    const keyring = keyringOf({ credHelpers: { [token.host]: name } });
    assert.equal(await resolveWith(keyring, `${token.host}/public/app:v1`), digests.get('token:public'));
    const error = await rejection(resolveWith(keyring, `${token.host}/private/app:v1`));
    assert.equal(error.code, 'REGISTRY_UNAUTHORIZED');
    assert.equal(helper.runs().length, 1);
  });

  it('names the helper and the setting to remove when it is not on PATH', async () => {
    const keyring = keyringOf({ credHelpers: { [basic.host]: 'tagpin-test-absent' } });
    const error = await rejection(resolveWith(keyring, `${basic.host}/private/app:v1`));
    assert.equal(error.code, 'REGISTRY_CREDENTIALS');
    assert.equal(error.message, `docker-credential-tagpin-test-absent not found on PATH; install it or remove credHelpers["${basic.host}"] from ${CONFIG}`);
    assert.equal(error.image, `${basic.host}/private/app:v1`);
  });

  it('names the helper, its exit code and the first line of its stderr, never its stdout', async () => {
    const name = uniqueName();
    await writeProgram(dir, `docker-credential-${name}`, { default: { stdout: 'secret-on-stdout', stderr: '\n  keychain locked \nmore detail\n', exitCode: 3 } });
    const error = await rejection(resolveWith(keyringOf({ credsStore: name }), `${basic.host}/private/app:v1`));
    assert.equal(error.code, 'REGISTRY_CREDENTIALS');
    assert.match(error.message, new RegExp(`^docker-credential-${name} get failed for ${basic.host} \\(exit 3: keychain locked\\); `));
    assert.match(error.message, /remove credsStore from \/home\/dev\/\.docker\/config\.json$/);
    assert.doesNotMatch(error.message, /secret-on-stdout|more detail/);
  });

  it('stops a helper that does not answer in time, process and all, and says so', async () => {
    const name = uniqueName();
    const helper = await writeProgram(dir, `docker-credential-${name}`, { default: { hang: true } });
    const error = await rejection(resolveWith(keyringOf({ credsStore: name }, { timeoutMs: 300 }), `${basic.host}/private/app:v1`));
    assert.equal(error.code, 'REGISTRY_CREDENTIALS');
    assert.match(error.message, new RegExp(`^docker-credential-${name} did not answer within 0.3 s for ${basic.host} and was stopped`));
    const [run] = helper.runs();
    assert.ok(run !== undefined);
    await eventually(() => !isRunning(run.pid), `helper process ${String(run.pid)} to be gone`);
  });

  it('stops what a helper script started too: its whole process group is killed', async () => {
    const name = uniqueName();
    const childPid = join(dir, `${name}.child`);
    const script = join(dir, `docker-credential-${name}`);
    await writeFile(script, `#!/bin/sh\nsleep 30 &\necho $! > ${childPid}\nwait\n`);
    await chmod(script, 0o755);
    const error = await rejection(resolveWith(keyringOf({ credsStore: name }, { timeoutMs: 300 }), `${basic.host}/private/app:v1`));
    assert.equal(error.code, 'REGISTRY_CREDENTIALS');
    const pid = Number(await readFile(childPid, 'utf8'));
    assert.ok(pid > 0);
    await eventually(() => !isRunning(pid), `the helper's child ${String(pid)} to be gone`);
  });

  it('gives up at the lookup\'s deadline when that comes first, and stops the helper no lookup waits for', async () => {
    const name = uniqueName();
    const helper = await writeProgram(dir, `docker-credential-${name}`, { default: { hang: true } });
    const lookup = kit.client().resolve(parseReference(`${basic.host}/private/app:v1`), { deadline: soon(400), keyring: keyringOf({ credsStore: name }) });
    const error = await rejection(lookup);
    assert.equal(error.code, 'REGISTRY_TIMEOUT');
    assert.equal(error.message, `timed out waiting for docker-credential-${name} to get credentials for ${basic.host}`);
    await eventually(() => helper.runs().length > 0 && helper.runs().every((run) => !isRunning(run.pid)), 'every helper process to be gone');
  });

  it('refuses an answer that is not the protocol\'s JSON, without quoting it', async () => {
    const name = uniqueName();
    await writeProgram(dir, `docker-credential-${name}`, { default: { stdout: 'password=hunter2' } });
    const error = await rejection(resolveWith(keyringOf({ credsStore: name }), `${basic.host}/private/app:v1`));
    assert.equal(error.code, 'REGISTRY_CREDENTIALS');
    assert.equal(error.message, `docker-credential-${name} get printed something that is not credentials JSON {"ServerURL","Username","Secret"} for ${basic.host}`);
  });

  it('tries again after a failure: failures are not remembered', async () => {
    const name = uniqueName();
    const helper = await writeProgram(dir, `docker-credential-${name}`, { default: { stderr: 'not yet', exitCode: 1 } });
    const keyring = keyringOf({ credsStore: name });
    assert.equal((await rejection(resolveWith(keyring, `${basic.host}/private/app:v5`))).code, 'REGISTRY_CREDENTIALS');
    await helper.behave({ default: helperLogin(basic) });
    assert.equal(await resolveWith(keyring, `${basic.host}/private/app:v5`), digests.get('basic:v5'));
    assert.equal(helper.runs().length, 2);
  });
});

describe('helper settings are checked when the config is read', () => {
  it('refuses a helper name that could be a path, naming the key', () => {
    assert.throws(() => keyringOf({ credHelpers: { 'gcr.io': '../../bin/sh' } }), (error: unknown) => {
      assert.ok(error instanceof InputError);
      assert.match(error.message, /^docker config \/home\/dev\/\.docker\/config\.json: credHelpers\["gcr\.io"\] must name a credential helper: letters, digits/);
      return true;
    });
    assert.throws(() => keyringOf({ credsStore: 'a b' }), /credsStore must name a credential helper/);
    assert.throws(() => keyringOf({ credHelpers: { 'gcr.io/team': 'gcloud' } }), /credHelpers\["gcr\.io\/team"\] does not name a registry host/);
  });

  it('treats an empty name as no helper, as docker does', async () => {
    const found = await keyringOf({ credsStore: '', credHelpers: { [basic.host]: '' } }).lookup(`${basic.host}/private/app`, { deadline: soon() });
    assert.deepEqual(found, []);
  });
});
