// What every shipped form of tagpin must do from a folder outside the checkout: print its version,
// resolve, pin and check against a real registry over TLS, and serve /mutate. Shared by
// bundle.test.ts (node dist/tagpin.js), install.test.ts (the npm package) and sea.test.ts (the
// single executable).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { removeOnExit } from '../support/exit-cleanup.ts';
import { repoRoot } from '../support/paths.ts';
import { lines, runCli } from '../support/cli.ts';
import type { CliResult } from '../support/cli.ts';
import { startFakeKube } from '../support/fake-kube.ts';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { admissionReview, patchOf } from '../support/reviews.ts';
import { startServe } from '../support/serve.ts';

/** How to run one installed form. */
export interface InstalledForm {
  /** The program and any arguments before tagpin's own. */
  readonly command: readonly string[];
  /** Variables the form needs (PATH for a `#!/usr/bin/env node` launcher). */
  readonly env: Readonly<Record<string, string>>;
}

const deployment = (image: string): string => `# kept as written
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
spec:
  template:
    spec:
      containers:
        - name: app
          image: ${image}   # the app
`;

/** Registers the version, resolve, pin, check and serve cases for the form `prepare` returns (called in `before`). */
export function itWorksInstalled(prepare: () => Promise<InstalledForm>): void {
  let form: InstalledForm;
  let registry: TestRegistry;
  /** An empty folder outside the checkout: no node_modules, no src/, no package.json above it. */
  let work: string;
  let image: string;
  let digest: string;
  let tlsFlags: readonly string[];

  const tagpin = (args: readonly string[], stdin?: string): Promise<CliResult> =>
    runCli(args, { command: form.command, cwd: work, env: { ...form.env, DOCKER_CONFIG: work }, ...(stdin === undefined ? {} : { stdin }) });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'tagpin-installed-work-'));
    removeOnExit(work);
    assert.ok(!work.startsWith(repoRoot), 'the work folder is outside the checkout');
    registry = await startRegistry('tls');
    tlsFlags = ['--ca-file', registry.pki?.caFile ?? 'no CA'];
    digest = await registry.push('installed/app', '1.0', 'oci-index');
    image = `${registry.host}/installed/app:1.0`;
    form = await prepare();
  });
  after(async () => {
    await registry.stop();
  });

  it('prints the version of package.json', async () => {
    const { version } = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const result = await tagpin(['version']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(lines(result.stdout)[0], `tagpin ${version}`);
  });

  it('resolves a tag to the digest the registry reports, over TLS with a CA file', async () => {
    const result = await tagpin(['resolve', ...tlsFlags, image]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${image}\t${image}@${digest}\n`);
    assert.ok(registry.manifestRequests().some((request) => request.method === 'HEAD' && request.path.endsWith('/manifests/1.0')));
  });

  it('pins a manifest in place, then check finds it pinned', async () => {
    const file = join(work, 'deploy.yaml');
    await writeFile(file, deployment(image));
    const pinned = await tagpin(['pin', ...tlsFlags, '-f', 'deploy.yaml', '-w']);
    assert.equal(pinned.code, 0, pinned.stderr);
    assert.equal(await readFile(file, 'utf8'), deployment(`${image}@${digest}`));
    const checked = await tagpin(['check', '-f', 'deploy.yaml']);
    assert.equal(checked.code, 0, checked.stderr);
    assert.equal(lines(checked.stdout)[0], `deploy.yaml:12 Deployment/web /spec/template/spec/containers/0/image ${image}@${digest} ok`);
  });

  it('pins a Dockerfile in place and names the file it wrote', async () => {
    const dockerfile = (from: string): string => `# syntax=docker/dockerfile:1\nFROM ${from} AS build\nRUN make\n\nFROM scratch\nCOPY --from=build /out /out\n`;
    await writeFile(join(work, 'Dockerfile'), dockerfile(image));
    const pinned = await tagpin(['pin', ...tlsFlags, '-f', 'Dockerfile', '-w']);
    assert.equal(pinned.code, 0, pinned.stderr);
    assert.equal(await readFile(join(work, 'Dockerfile'), 'utf8'), dockerfile(`${image}@${digest}`));
    assert.match(pinned.stderr, /^tagpin: wrote Dockerfile \(1 image pinned\)$/m);
  });

  it('answers a ResourceList on stdin as a KRM function', async () => {
    const list = `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p\n  spec:\n    containers:\n    - name: a\n      image: ${image}\n`;
    const result = await tagpin(['pin', ...tlsFlags, '-f', '-'], list);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, list.replace(image, `${image}@${digest}`));
  });

  it('exits 2 for a folder without manifests', async () => {
    const empty = await mkdtemp(join(work, 'empty-'));
    const result = await tagpin(['check', '-f', empty]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no manifests found in /);
  });

  it('check exits 1 on a mutable tag', async () => {
    await writeFile(join(work, 'latest.yaml'), deployment(`${registry.host}/installed/app:latest`));
    const result = await tagpin(['check', '-f', 'latest.yaml']);
    assert.equal(result.code, 1, result.stderr);
    assert.match(lines(result.stdout)[0] ?? '', / violation .*latest/);
  });

  it('serves /mutate, pinning a Pod, with the Kubernetes API read and nothing on stderr', async () => {
    // The webhook refuses loopback registries unless they are allowed.
    const config = { registries: { caFile: registry.pki?.caFile, allow: ['127.0.0.1'] } };
    const kube = await startFakeKube();
    const server = await startServe({ command: form.command, env: { ...form.env, KUBECONFIG: kube.kubeconfigFile }, config });
    try {
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'demo' }, spec: { containers: [{ name: 'a', image }] } };
      const answer = await server.review('mutate', admissionReview({ object: pod }));
      assert.equal(answer.response.allowed, true);
      assert.deepEqual(patchOf(answer), [{ op: 'replace', path: '/spec/containers/0/image', value: `${image}@${digest}` }]);
      assert.ok(kube.requests() > 0, 'the service account was read from the API');
      // The Kubernetes client's dependencies once loaded the deprecated punycode module at start.
      assert.equal(server.stderr(), '');
    } finally {
      await server.stop();
      await kube.stop();
    }
  });
}
