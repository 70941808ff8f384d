// `npm run build`: the JavaScript bundle runs every command on its own, with no node_modules and no sources.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, readdir } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { removeOnExit } from '../support/exit-cleanup.ts';
import { repoRoot } from '../support/paths.ts';
import { runCli } from '../support/cli.ts';
import { startFakeKube } from '../support/fake-kube.ts';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { admissionReview, patchOf } from '../support/reviews.ts';
import { startServe } from '../support/serve.ts';

const run = promisify(execFile);

describe('the built bundle', () => {
  let registry: TestRegistry;
  /** A folder outside the checkout holding only the bundle: nothing can be found in node_modules or src/. */
  let alone: string;
  let bundle: string;
  let digest: string;

  before(async () => {
    const built = await mkdtemp(join(tmpdir(), 'tagpin-build-'));
    removeOnExit(built);
    await run(process.execPath, ['scripts/build.ts', '--outdir', built], { cwd: repoRoot, timeout: 120_000 });
    alone = await mkdtemp(join(tmpdir(), 'tagpin-bundle-alone-'));
    removeOnExit(alone);
    await cp(built, join(alone, 'dist'), { recursive: true });
    bundle = join(alone, 'dist', 'tagpin.js');
    registry = await startRegistry('http');
    digest = await registry.push('bundle/app', '1.0', 'oci-index');
  });
  after(async () => {
    await registry.stop();
  });

  it('is JavaScript that imports only Node built-ins and its own chunks', async () => {
    const files = await readdir(join(alone, 'dist'), { recursive: true });
    const scripts = files.filter((file) => file.endsWith('.js'));
    assert.ok(scripts.includes('tagpin.js'));
    for (const file of scripts) {
      const text = await readFile(join(alone, 'dist', file), 'utf8');
      // Static imports open the (minified) file as statements; dynamic ones are `import("…")` anywhere.
      const statics = [...text.matchAll(/(?:^|;)\s*(?:import|export)\b[^;"'`]*?["']([^"'\n]+)["']/g)];
      const dynamics = [...text.matchAll(/\bimport\(\s*["']([^"'\n]+)["']\s*\)/g)];
      const specifiers = [...statics, ...dynamics].map((m) => m[1] ?? '');
      assert.ok(file !== 'tagpin.js' || specifiers.length > 0, 'the entry imports its chunks');
      for (const specifier of specifiers) {
        assert.ok(isBuiltin(specifier) || /^\.\.?\//.test(specifier), `${file} imports ${specifier}`);
      }
    }
  });

  it('prints the version of package.json', async () => {
    const { version } = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const result = await runCli(['version'], { command: [process.execPath, bundle], cwd: alone });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.split('\n')[0], `tagpin ${version}`);
  });

  it('resolves a tag against a real registry', async () => {
    const image = `${registry.host}/bundle/app:1.0`;
    const result = await runCli(['resolve', '--insecure-registry', registry.host, image], { command: [process.execPath, bundle], cwd: alone });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${image}\t${image}@${digest}\n`);
  });

  it('serves /mutate, pinning a Pod', async () => {
    const server = await startServe({ script: bundle, config: { registries: { insecure: [registry.host] } } });
    try {
      const image = `${registry.host}/bundle/app:1.0`;
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'demo' }, spec: { containers: [{ name: 'a', image }] } };
      const answer = await server.review('mutate', admissionReview({ object: pod }));
      assert.equal(answer.response.allowed, true);
      assert.deepEqual(patchOf(answer), [{ op: 'replace', path: '/spec/containers/0/image', value: `${image}@${digest}` }]);
    } finally {
      await server.stop();
    }
  });

  it('reads the Kubernetes API for a Pod and writes no warning to stderr', async () => {
    const kube = await startFakeKube();
    const server = await startServe({ script: bundle, config: { registries: { insecure: [registry.host] } }, env: { KUBECONFIG: kube.kubeconfigFile } });
    try {
      const image = `${registry.host}/bundle/app:1.0`;
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'demo' }, spec: { containers: [{ name: 'a', image }] } };
      const answer = await server.review('mutate', admissionReview({ object: pod }));
      assert.deepEqual(patchOf(answer), [{ op: 'replace', path: '/spec/containers/0/image', value: `${image}@${digest}` }]);
      assert.ok(kube.requests() > 0, 'the service account was read from the API');
      // The Kubernetes client's dependencies once loaded the deprecated punycode module at start.
      assert.equal(server.stderr(), '');
    } finally {
      await server.stop();
      await kube.stop();
    }
  });
});
