// `tagpin pin` as a KRM function: run by the real kustomize (exec function), and fed ResourceLists directly.
import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { lines, removeDir, runCli, tempDir } from '../support/cli.ts';
import { ensureKustomize } from '../support/kustomize.ts';
import { mainScript } from '../support/paths.ts';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { skopeoPlatformDigest } from '../support/skopeo.ts';

describe('tagpin pin as a KRM function', () => {
  let kustomize: string;
  let registry: TestRegistry;
  let dir: string;
  let wrapper: string;
  let app: string;
  let web: string;

  before(async () => {
    [kustomize, registry, dir] = await Promise.all([ensureKustomize(), startRegistry('http'), tempDir()]);
    await Promise.all([registry.push('demo/app', 'v1', 'oci-index'), registry.push('demo/web', '1.0', 'docker-manifest')]);
    app = `${registry.host}/demo/app:v1`;
    web = `${registry.host}/demo/web:1.0`;
    // What a user's exec function points at: a program that runs tagpin with the arguments kustomize passes.
    wrapper = join(dir, 'tagpin');
    await writeFile(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${mainScript}' "$@"\n`);
    await chmod(wrapper, 0o755);
  });
  after(async () => {
    await registry.stop();
    await removeDir(dir);
  });

  /** A kustomization of a Deployment and a Pod with `images`, and tagpin as its transformer (ConfigMap `data` given). */
  async function kustomization(name: string, images: readonly [string, string], data: Record<string, string> = {}): Promise<string> {
    const root = join(dir, name);
    await mkdir(root);
    await writeFile(
      join(root, 'workloads.yaml'),
      [
        `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: ${images[0]} # the app\n`,
        `apiVersion: v1\nkind: Pod\nmetadata:\n  name: tool\n  namespace: ops\nspec:\n  containers:\n    - name: tool\n      image: ${images[1]}\n`,
      ].join('---\n'),
    );
    const args = JSON.stringify(['pin', '-f', '-', '--insecure-registry', registry.host]);
    const dataBlock = Object.keys(data).length === 0 ? '' : `data:\n${Object.entries(data).map(([k, v]) => `  ${k}: ${v}\n`).join('')}`;
    await writeFile(
      join(root, 'pin.yaml'),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pin-images\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: ${wrapper}\n        args: ${args}\n${dataBlock}`,
    );
    await writeFile(join(root, 'kustomization.yaml'), 'resources: [workloads.yaml]\ntransformers: [pin.yaml]\n');
    return root;
  }

  const build = (root: string) => runCli(['build', '--enable-alpha-plugins', '--enable-exec', root], { command: [kustomize] });

  /** The image of each object kustomize printed, by kind. */
  function imagesOf(output: string): Record<string, string> {
    const images: Record<string, string> = {};
    for (const document of parseAllDocuments(output)) {
      const object = document.toJS() as { kind: string; spec: { containers?: { image: string }[]; template?: { spec: { containers: { image: string }[] } } } };
      const containers = object.spec.containers ?? object.spec.template?.spec.containers ?? [];
      images[object.kind] = containers[0]?.image ?? '';
    }
    return images;
  }

  test('kustomize build pins every image to the digest the registry reports', async () => {
    const result = await build(await kustomization('plain', [app, web]));
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(imagesOf(result.stdout), {
      Deployment: `${app}@${await registry.digest('demo/app', 'v1')}`,
      Pod: `${web}@${await registry.digest('demo/web', '1.0')}`,
    });
  });

  test('functionConfig data.platform pins the platform manifest skopeo picks', async () => {
    const result = await build(await kustomization('platform', [app, web], { platform: 'linux/arm64' }));
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(imagesOf(result.stdout), {
      Deployment: `${app}@${await skopeoPlatformDigest(registry, 'demo/app', 'v1', 'linux/arm64')}`,
      Pod: `${web}@${await registry.digest('demo/web', '1.0')}`,
    });
  });

  test('an image that cannot be resolved fails the build with tagpin\'s line on stderr', async () => {
    const missing = `${registry.host}/demo/app:v9`;
    const result = await build(await kustomization('failing', [app, missing]));
    assert.notEqual(result.code, 0);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, new RegExp(`^tagpin: ${missing.replaceAll('.', '\\.')}: .*not found`, 'm'));
  });

  /** A ResourceList as kpt sends it: items annotated with the file they came from. */
  function resourceList(images: readonly [string, string], functionConfig = ''): string {
    return [
      'apiVersion: config.kubernetes.io/v1',
      'kind: ResourceList',
      'items:',
      '  - apiVersion: apps/v1',
      '    kind: Deployment',
      '    metadata:',
      '      name: web',
      '      annotations:',
      "        internal.config.kubernetes.io/path: 'apps/web.yaml'",
      "        internal.config.kubernetes.io/index: '0'",
      '    spec:',
      '      template:',
      '        spec:',
      '          containers:',
      '            - name: web',
      `              image: ${images[0]} # keep this comment`,
      '  - apiVersion: v1',
      '    kind: Pod',
      '    metadata:',
      '      name: tool',
      '      namespace: ops',
      '    spec:',
      '      initContainers:',
      '        - name: tool',
      `          image: "${images[1]}"`,
      ...(functionConfig === '' ? [] : [functionConfig]),
      '',
    ].join('\n');
  }

  test('a ResourceList on stdin comes back byte for byte but for the pinned images', async () => {
    const input = resourceList([app, web]);
    const result = await runCli(['pin', '-f', '-', '--insecure-registry', registry.host], { stdin: input });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.equal(
      result.stdout,
      input
        .replace(`image: ${app} `, `image: ${app}@${await registry.digest('demo/app', 'v1')} `)
        .replace(`"${web}"`, `"${web}@${await registry.digest('demo/web', '1.0')}"`),
    );
  });

  test('failures come back as results naming the resource, field and file; the items stay unchanged; exit 1', async () => {
    const missing = `${registry.host}/demo/app:v9`;
    const input = resourceList([missing, 'Bad:Image']);
    const result = await runCli(['pin', '-f', '-', '--insecure-registry', registry.host], { stdin: input });
    assert.equal(result.code, 1);
    assert.ok(result.stdout.startsWith(input), 'the input is kept as it was, results appended');
    const output = parse(result.stdout) as { items: unknown; results: { message: string }[] };
    assert.deepEqual(output.items, (parse(input) as { items: unknown }).items);
    const [invalid, notFound] = output.results;
    assert.deepEqual({ ...invalid, message: undefined }, {
      message: undefined,
      severity: 'error',
      resourceRef: { apiVersion: 'v1', kind: 'Pod', name: 'tool', namespace: 'ops' },
      field: { path: 'spec.initContainers[0].image' },
    });
    assert.match(invalid?.message ?? '', /^spec\.initContainers\[0\]\.image: /);
    assert.deepEqual({ ...notFound, message: undefined }, {
      message: undefined,
      severity: 'error',
      resourceRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      field: { path: 'spec.template.spec.containers[0].image' },
      file: { path: 'apps/web.yaml', index: 0 },
    });
    assert.match(notFound?.message ?? '', new RegExp(`^${missing.replaceAll('.', '\\.')}: .*not found`));
    assert.equal(lines(result.stderr).length, 2);
    assert.match(result.stderr, /not found.* \(apps\/web\.yaml\)$/m);
  });

  test('results from an earlier function are kept, the new ones added after them', async () => {
    const earlier = 'results:\n  - message: from an earlier function\n    severity: info';
    const input = resourceList([`${registry.host}/demo/app:v9`, web], earlier);
    const result = await runCli(['pin', '-f', '-', '--insecure-registry', registry.host], { stdin: input });
    assert.equal(result.code, 1);
    const output = parse(result.stdout) as { results: { message: string; severity: string }[] };
    assert.deepEqual(output.results.map((r) => r.severity), ['info', 'error']);
    assert.equal(output.results[0]?.message, 'from an earlier function');
  });

  test('a functionConfig ConfigMap with an unknown key or a bad platform is an error result, with no lookup', async () => {
    const before = registry.manifestRequests().length;
    for (const [data, message] of [
      ['tag: latest', 'functionConfig data.tag is not a tagpin setting (known: platform)'],
      ['platform: linux', 'functionConfig data.platform: invalid platform "linux": write os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm64/v8'],
    ] as const) {
      const config = `functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: pin\n  data:\n    ${data}`;
      const result = await runCli(['pin', '-f', '-', '--insecure-registry', registry.host], { stdin: resourceList([app, web], config) });
      assert.equal(result.code, 1, data);
      assert.deepEqual((parse(result.stdout) as { results: unknown }).results, [{ message, severity: 'error' }]);
      assert.deepEqual(lines(result.stderr), [`tagpin: ${message}`]);
    }
    assert.equal(registry.manifestRequests().length, before);
  });
});
