// `tagpin pin` against a real registry: only image values change, whatever the input looks like.
import assert from 'node:assert/strict';
import { readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { copyFixture, escapeRegExp, fixtureText, lines, removeDir, runCli, tempDir, writeConfig } from '../support/cli.ts';

describe('tagpin pin', () => {
  let registry: TestRegistry;
  let dir: string;
  let host: string;
  /** Digests as the registry reports them, by `repository:tag`. */
  const digests = new Map<string, string>();

  /** `HOST/repository:tag@digest`, with the digest the registry reports. */
  const pinned = (repositoryTag: string): string => {
    const digest = digests.get(repositoryTag);
    if (digest === undefined) throw new Error(`no digest for ${repositoryTag}`);
    return `${host}/${repositoryTag}@${digest}`;
  };
  const insecure = (): readonly string[] => ['--insecure-registry', host];

  before(async () => {
    registry = await startRegistry('http');
    host = registry.host;
    dir = await tempDir();
    const content = [
      ['demo/app', 'v1', 'oci-index'],
      ['demo/web', '1.0', 'docker-manifest'],
      ['demo/sidecar', '2', 'oci-manifest'],
      ['demo/list', '3', 'docker-list'],
    ] as const;
    for (const [repository, tag, kind] of content) {
      await registry.push(repository, tag, kind);
      digests.set(`${repository}:${tag}`, await registry.digest(repository, tag));
    }
  });
  after(async () => {
    await registry.stop();
    await removeDir(dir);
  });

  /** The multi-document fixture as `pin` must print it: the six pinnable values changed, nothing else. */
  async function expectedMulti(): Promise<string> {
    let text = await fixtureText('multi.yaml', host);
    text = replaceLine(text, `image: '${host}/demo/app:v1'   # single-quoted`, `image: '${pinned('demo/app:v1')}'   # single-quoted`);
    text = replaceLine(text, `image: "${host}/demo/web:1.0"  # double-quoted`, `image: "${pinned('demo/web:1.0')}"  # double-quoted`);
    text = replaceLine(text, `- image: ${host}/demo/sidecar:2  # plain`, `- image: ${pinned('demo/sidecar:2')}  # plain`);
    text = replaceLine(text, `image: ${host}/demo/list:3, args`, `image: ${pinned('demo/list:3')}, args`);
    text = replaceLine(text, `image: &app "${host}/demo/app:v1"`, `image: &app "${pinned('demo/app:v1')}"`);
    text = replaceLine(text, `reference: ${host}/demo/web:1.0`, `reference: ${pinned('demo/web:1.0')}`);
    return text;
  }

  test('pins multi-document YAML and changes nothing but the image values', async () => {
    const file = await copyFixture('multi.yaml', dir, host);
    const result = await runCli(['pin', '-f', file, ...insecure()]);
    // The one object left alone is named, with the rule that skips it.
    assert.equal(result.stderr, `tagpin: note: ${file}:75 Pod/system-agent: namespace kube-system is excluded (exclude.namespaces); not pinned\n`);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, await expectedMulti());
    // Without -w the input is left alone.
    assert.equal(await readFile(file, 'utf8'), await fixtureText('multi.yaml', host));
  });

  test('pins JSON and keeps it JSON, layout included', async () => {
    const file = await copyFixture('deployment.json', dir, host);
    const result = await runCli(['pin', '-f', file, ...insecure()]);
    assert.equal(result.code, 0, result.stderr);
    let expected = await fixtureText('deployment.json', host);
    expected = replaceLine(expected, `"image": "${host}/demo/app:v1",`, `"image": "${pinned('demo/app:v1')}",`);
    expected = replaceLine(expected, `"image": "${host}/demo/web:1.0",`, `"image": "${pinned('demo/web:1.0')}",`);
    assert.equal(result.stdout, expected);
    assert.doesNotThrow(() => JSON.parse(result.stdout) as unknown);
  });

  test('pins stdin with -f -', async () => {
    const result = await runCli(['pin', '-f', '-', ...insecure()], { stdin: await fixtureText('multi.yaml', host) });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, await expectedMulti());
  });

  test('pins a directory recursively and prints one YAML stream', async () => {
    const tree = await copyFixture('tree', join(dir, 'stream'), host);
    const result = await runCli(['pin', '-f', tree, ...insecure()]);
    assert.equal(result.code, 0, result.stderr);
    const documents = parseAllDocuments(result.stdout);
    assert.ok(Array.isArray(documents));
    const summary = documents.map((document) => {
      const data = document.toJS() as { kind: string; metadata: { name: string } };
      return `${data.kind}/${data.metadata.name}`;
    });
    // Name order: apps/migrate.yml, apps/web.yaml, cron.json, settings.yaml; README.md is not a manifest.
    assert.deepEqual(summary, ['Job/migrate', 'Deployment/web', 'CronJob/nightly', 'ConfigMap/settings']);
    assert.ok(result.stdout.includes(`image: "${pinned('demo/app:v1')}"`));
    assert.ok(result.stdout.includes(`image: ${pinned('demo/web:1.0')} # front end`));
    assert.ok(result.stdout.includes(`"image": "${pinned('demo/list:3')}"`));
    assert.ok(result.stdout.includes(`  image: ${host}/demo/app:v1\n`), 'the ConfigMap value stays');
  });

  test('-w rewrites changed files in place and leaves the others untouched', async () => {
    const tree = await copyFixture('tree', join(dir, 'in-place'), host);
    const untouched = [join(tree, 'settings.yaml'), join(tree, 'README.md')];
    const old = new Date('2001-02-03T04:05:06Z');
    for (const file of untouched) await utimes(file, old, old);
    const originals = new Map<string, string>();
    for (const file of ['apps/web.yaml', 'apps/migrate.yml', 'cron.json', 'settings.yaml', 'README.md']) {
      originals.set(file, await readFile(join(tree, file), 'utf8'));
    }

    const result = await runCli(['pin', '-w', '-f', tree, ...insecure()]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '');
    // Each file changed is named on stderr, in the order read; the unchanged ones are not.
    assert.deepEqual(lines(result.stderr), [
      `tagpin: wrote ${join(tree, 'apps/migrate.yml')} (1 image pinned)`,
      `tagpin: wrote ${join(tree, 'apps/web.yaml')} (1 image pinned)`,
      `tagpin: wrote ${join(tree, 'cron.json')} (1 image pinned)`,
    ]);
    assert.equal(
      await readFile(join(tree, 'apps/web.yaml'), 'utf8'),
      replaceLine(originals.get('apps/web.yaml') ?? '', `image: ${host}/demo/web:1.0 # front end`, `image: ${pinned('demo/web:1.0')} # front end`),
    );
    assert.equal(
      await readFile(join(tree, 'apps/migrate.yml'), 'utf8'),
      replaceLine(originals.get('apps/migrate.yml') ?? '', `image: "${host}/demo/app:v1"`, `image: "${pinned('demo/app:v1')}"`),
    );
    assert.equal(
      await readFile(join(tree, 'cron.json'), 'utf8'),
      replaceLine(originals.get('cron.json') ?? '', `"image": "${host}/demo/list:3"`, `"image": "${pinned('demo/list:3')}"`),
    );
    for (const file of untouched) assert.equal((await stat(file)).mtime.getTime(), old.getTime(), `${file} was rewritten`);
    assert.equal(await readFile(join(tree, 'settings.yaml'), 'utf8'), originals.get('settings.yaml'));
  });

  test('keeps CRLF line endings and a byte order mark, and pins through block scalars and merge keys', async () => {
    const source = [
      '\uFEFF# saved on Windows',
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: p, namespace: demo}',
      'spec:',
      '  containers:',
      '  - &first',
      '    name: a',
      `    image: ${host}/demo/web:1.0`,
      '  - <<: *first',
      '    name: b',
      '  initContainers:',
      '  - name: c',
      '    image: >-',
      `      ${host}/demo/app:v1`,
      '',
    ].join('\r\n');
    const result = await runCli(['pin', '-f', '-', ...insecure()], { stdin: source });
    assert.equal(result.code, 0, result.stderr);
    const expected = source
      .replace(`    image: ${host}/demo/web:1.0\r\n`, `    image: ${pinned('demo/web:1.0')}\r\n`)
      .replace(`    image: >-\r\n      ${host}/demo/app:v1\r\n`, `    image: "${pinned('demo/app:v1')}"\r\n`);
    assert.notEqual(expected, source);
    assert.equal(result.stdout, expected);
  });

  test('pinning its own output changes nothing and asks the registry nothing', async () => {
    const file = join(dir, 'pinned-once.yaml');
    await writeFile(file, await expectedMulti());
    const requests = registry.manifestRequests().length;
    const result = await runCli(['pin', '-f', file, ...insecure()]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, await expectedMulti());
    assert.equal(registry.manifestRequests().length, requests);
  });

  test('mutate.kinds and mutate.output from --config decide what is pinned and how', async () => {
    const config = await writeConfig(dir, 'deployments-only.yaml', 'mutate:\n  output: digest\n  kinds: [Deployment]\n');
    const file = await copyFixture('multi.yaml', join(dir, 'kinds'), host);
    const result = await runCli(['pin', '--config', config, '-f', file, ...insecure()]);
    assert.equal(result.code, 0, result.stderr);
    const digestOnly = (repository: string, tag: string): string => `${host}/${repository}@${digests.get(`${repository}:${tag}`) ?? ''}`;
    let expected = await fixtureText('multi.yaml', host);
    expected = replaceLine(expected, `image: '${host}/demo/app:v1'   # single-quoted`, `image: '${digestOnly('demo/app', 'v1')}'   # single-quoted`);
    expected = replaceLine(expected, `image: "${host}/demo/web:1.0"  # double-quoted`, `image: "${digestOnly('demo/web', '1.0')}"  # double-quoted`);
    expected = replaceLine(expected, `- image: ${host}/demo/sidecar:2  # plain`, `- image: ${digestOnly('demo/sidecar', '2')}  # plain`);
    assert.equal(result.stdout, expected);
  });

  test('every object and image left alone is named on stderr with the rule that skips it', async () => {
    const config = await writeConfig(dir, 'skips.yaml', `mutate:\n  kinds: [Pod]\nexclude:\n  images: ["${host}/demo/web*"]\n`);
    const text = [
      'kind: Pod',
      'metadata: {name: mixed, namespace: demo}',
      'spec:',
      '  containers:',
      `  - {name: a, image: ${host}/demo/app:v1}`,
      `  - {name: b, image: ${host}/demo/web:1.0}`,
      '---',
      'kind: Deployment',
      'metadata: {name: other}',
      'spec: {template: {spec: {containers: [{name: c, image: nginx:1.27}]}}}',
      '---',
      'kind: Pod',
      'metadata: {name: agent, namespace: kube-system}',
      'spec: {containers: [{name: d, image: nginx:1.27}]}',
      '---',
      'kind: ConfigMap',
      'metadata: {name: quiet}',
      '',
    ].join('\n');
    const result = await runCli(['pin', '--config', config, '-f', '-', ...insecure()], { stdin: text });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, text.replace(`image: ${host}/demo/app:v1}`, `image: ${pinned('demo/app:v1')}}`));
    // A ConfigMap has no images: nothing to say about it.
    assert.deepEqual(lines(result.stderr), [
      `tagpin: note: <stdin>:6: ${host}/demo/web:1.0 matches exclude.images "${host}/demo/web*"; not pinned`,
      'tagpin: note: <stdin>:8 Deployment/other: kind Deployment is not in mutate.kinds; not pinned',
      'tagpin: note: <stdin>:12 Pod/agent: namespace kube-system is excluded (exclude.namespaces); not pinned',
    ]);
  });

  test('an unresolvable image exits 1 naming image, registry, cause and place, and nothing is written', async () => {
    const file = join(dir, 'missing-tag.yaml');
    const text = [
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: p, namespace: demo}',
      'spec:',
      '  containers:',
      `    - {name: ok, image: ${host}/demo/app:v1}`,
      `    - {name: gone, image: ${host}/demo/app:1.99}`,
      '',
    ].join('\n');
    await writeFile(file, text);
    const result = await runCli(['pin', '-w', '-f', file, ...insecure()]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    const [line, ...rest] = lines(result.stderr);
    assert.deepEqual(rest, []);
    assert.match(line ?? '', new RegExp(`^tagpin: ${escapeRegExp(`${host}/demo/app:1.99`)}: .*not found.*${escapeRegExp(host)}`));
    assert.ok(line?.endsWith(`(${file}:7)`), line);
    assert.equal(await readFile(file, 'utf8'), text);
  });

  test('an invalid image exits 1 naming the file, line and field', async () => {
    const file = join(dir, 'invalid-image.yaml');
    await writeFile(file, 'kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: a\n      image: Demo/App:v1\n');
    const result = await runCli(['pin', '-f', file, ...insecure()]);
    assert.equal(result.code, 1);
    assert.equal(lines(result.stderr).length, 1, result.stderr);
    assert.ok(result.stderr.startsWith(`tagpin: ${file}:6: /spec/containers/0/image: `), result.stderr);
  });

  test('input that is not YAML exits 2 with file and line', async () => {
    const file = await copyFixture('broken.yaml', dir, host);
    const result = await runCli(['pin', '-f', file, ...insecure()]);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.equal(lines(result.stderr).length, 1, result.stderr);
    assert.ok(result.stderr.startsWith(`tagpin: ${file}:9: `), result.stderr);
  });

  test('a path that does not exist exits 2 naming it', async () => {
    const file = join(dir, 'nowhere.yaml');
    const result = await runCli(['pin', '-f', file]);
    assert.equal(result.code, 2);
    assert.equal(result.stderr, `tagpin: cannot read ${file}: no such file or directory\n`);
  });
});

/** `text` with the one line containing `before` changed to contain `after` instead; fails if not exactly one. */
function replaceLine(text: string, before: string, after: string): string {
  const all = text.split('\n');
  const matches = all.flatMap((line, index) => (line.includes(before) ? [index] : []));
  assert.equal(matches.length, 1, `expected one line containing ${before}, found ${String(matches.length)}`);
  const index = matches[0] ?? 0;
  all[index] = (all[index] ?? '').replace(before, after);
  return all.join('\n');
}
