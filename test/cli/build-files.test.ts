// `tagpin pin` and `check` on Dockerfiles and compose files, against a real registry: only image references change.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { lines, removeDir, runCli, tempDir } from '../support/cli.ts';

describe('tagpin pin and check on Dockerfiles and compose files', () => {
  let registry: TestRegistry;
  let dir: string;
  let host: string;
  /** Digests as the registry reports them, by `repository:tag`. */
  const digests = new Map<string, string>();
  const pinned = (repositoryTag: string): string => `${host}/${repositoryTag}@${digests.get(repositoryTag) ?? 'missing'}`;
  const insecure = (): readonly string[] => ['--insecure-registry', host];

  /** A multi-stage Dockerfile with every construct the reader must get right; images point at the test registry. */
  const dockerfile = (): string =>
    [
      '# syntax=docker/dockerfile:1',
      `ARG BASE=${host}/demo/app:v1`,
      `FROM --platform=$BUILDPLATFORM ${host}/demo/app:v1 AS Build`,
      'RUN echo building \\',
      '    # a comment inside a continuation',
      '    && true',
      'FROM build AS test',
      'FROM ${BASE}',
      `copy --from=${host}/demo/web:1.0 /etc/web /etc/web`,
      'COPY --from=BUILD /out /out',
      'RUN <<EOF',
      `FROM ${host}/demo/web:1.0`,
      'EOF',
      'FROM scratch',
      '',
    ].join('\n');

  /** A compose file with comments, a service that builds its image, and an interpolated image. */
  const compose = (): string =>
    [
      '# the local stack',
      'services:',
      '  web:',
      `    image: "${host}/demo/web:1.0"   # front end`,
      '    ports: ["8080:80"]',
      '  worker:',
      '    build: .',
      '    image: acme/worker:dev',
      '  cache:',
      '    image: redis:${REDIS_TAG:-7}',
      '  db:',
      `    image: ${host}/demo/app:v1`,
      '',
    ].join('\n');

  before(async () => {
    registry = await startRegistry('http');
    host = registry.host;
    dir = await tempDir();
    for (const [repository, tag, kind] of [['demo/app', 'v1', 'oci-index'], ['demo/web', '1.0', 'docker-manifest']] as const) {
      await registry.push(repository, tag, kind);
      digests.set(`${repository}:${tag}`, await registry.digest(repository, tag));
    }
  });
  after(async () => {
    await registry.stop();
    await removeDir(dir);
  });

  /** The Dockerfile as pin must print it: the FROM image and the COPY --from image pinned, every other byte kept. */
  const pinnedDockerfile = (): string =>
    dockerfile()
      .replace(`$BUILDPLATFORM ${host}/demo/app:v1 AS`, `$BUILDPLATFORM ${pinned('demo/app:v1')} AS`)
      .replace(`copy --from=${host}/demo/web:1.0 `, `copy --from=${pinned('demo/web:1.0')} `);

  test('pins FROM and COPY --from images of a Dockerfile, skipping stages, scratch, heredocs and build arguments with a note', async () => {
    const file = join(dir, 'Dockerfile');
    await writeFile(file, dockerfile());
    const result = await runCli(['pin', '-f', file, ...insecure()]);
    assert.equal(result.code, 0, result.stderr);
    assert.notEqual(pinnedDockerfile(), dockerfile());
    assert.equal(result.stdout, pinnedDockerfile());
    assert.deepEqual(lines(result.stderr), [
      `tagpin: note: ${file}:8: FROM \${BASE} names a build argument; pin its default or --build-arg instead; left as written`,
    ]);
  });

  test('reads a Dockerfile from stdin by its first instruction', async () => {
    const result = await runCli(['pin', '-f', '-', ...insecure()], { stdin: dockerfile() });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, pinnedDockerfile());
  });

  test('pins services.*.image of a compose file, leaving built and interpolated images with a note', async () => {
    const file = join(dir, 'compose.yaml');
    await writeFile(file, compose());
    const result = await runCli(['pin', '-f', file, ...insecure()]);
    assert.equal(result.code, 0, result.stderr);
    const expected = compose()
      .replace(`image: "${host}/demo/web:1.0"`, `image: "${pinned('demo/web:1.0')}"`)
      .replace(`image: ${host}/demo/app:v1`, `image: ${pinned('demo/app:v1')}`);
    assert.equal(result.stdout, expected);
    assert.deepEqual(lines(result.stderr), [
      `tagpin: note: ${file}:8: service worker builds its image (build:), so image: names what it builds; left as written`,
      `tagpin: note: ${file}:10: service cache uses variable interpolation; left as written`,
    ]);
  });

  test('-w on a directory rewrites the Dockerfile, the compose file and the manifests, naming each file', async () => {
    const tree = join(dir, 'repo');
    await mkdir(join(tree, 'k8s'), { recursive: true });
    const manifest = `kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    image: ${host}/demo/app:v1 # keep me\n`;
    await writeFile(join(tree, 'Dockerfile'), dockerfile());
    await writeFile(join(tree, 'docker-compose.yml'), compose());
    await writeFile(join(tree, 'k8s', 'pod.yaml'), manifest);
    const result = await runCli(['pin', '-w', '-f', tree, ...insecure()]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '');
    assert.equal(await readFile(join(tree, 'Dockerfile'), 'utf8'), pinnedDockerfile());
    assert.match(await readFile(join(tree, 'docker-compose.yml'), 'utf8'), new RegExp(`image: "${pinned('demo/web:1.0')}"   # front end`));
    assert.equal(await readFile(join(tree, 'k8s', 'pod.yaml'), 'utf8'), manifest.replace(`${host}/demo/app:v1`, pinned('demo/app:v1')));
    const wrote = lines(result.stderr).filter((line) => line.startsWith('tagpin: wrote '));
    assert.deepEqual(wrote, [
      `tagpin: wrote ${join(tree, 'Dockerfile')} (2 images pinned)`,
      `tagpin: wrote ${join(tree, 'docker-compose.yml')} (2 images pinned)`,
      `tagpin: wrote ${join(tree, 'k8s', 'pod.yaml')} (1 image pinned)`,
    ]);

    // A second run finds everything pinned and says that no file changed.
    const again = await runCli(['pin', '-w', '-f', tree, ...insecure()]);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(lines(again.stderr).includes('tagpin: note: no file changed: every image is pinned already or skipped'), again.stderr);
  });

  test('exclude.images applies to Dockerfile images, and an invalid one exits 1 naming file, line and instruction', async () => {
    const config = join(dir, 'exclude-web.yaml');
    await writeFile(config, `exclude:\n  images: ["${host}/demo/web*"]\n`);
    const file = join(dir, 'web.Dockerfile');
    await writeFile(file, `FROM ${host}/demo/app:v1\nCOPY --from=${host}/demo/web:1.0 /a /a\n`);
    const result = await runCli(['pin', '--config', config, '-f', file, ...insecure()]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `FROM ${pinned('demo/app:v1')}\nCOPY --from=${host}/demo/web:1.0 /a /a\n`);
    assert.deepEqual(lines(result.stderr), [`tagpin: note: ${file}:2: ${host}/demo/web:1.0 matches exclude.images "${host}/demo/web*"; not pinned`]);

    const invalid = join(dir, 'invalid.Dockerfile');
    await writeFile(invalid, `FROM ${host}/demo/app:v1\n\nFROM Alpine:3.20\n`);
    const failed = await runCli(['pin', '-w', '-f', invalid, ...insecure()]);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, new RegExp(`^tagpin: ${invalid.replaceAll('.', '\\.')}:3: FROM: invalid image reference "Alpine:3\\.20"`));
    assert.equal(lines(failed.stderr).length, 1, failed.stderr);
    assert.equal(await readFile(invalid, 'utf8'), `FROM ${host}/demo/app:v1\n\nFROM Alpine:3.20\n`, 'nothing written');
  });

  test('without -w, a Dockerfile among several inputs exits 2 naming it, as stdout holds one YAML stream', async () => {
    const tree = join(dir, 'mixed');
    await mkdir(tree, { recursive: true });
    await writeFile(join(tree, 'Containerfile'), dockerfile());
    await writeFile(join(tree, 'pod.yaml'), `kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: a, image: ${host}/demo/app:v1}\n`);
    const result = await runCli(['pin', '-f', tree, ...insecure()]);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, new RegExp(`^tagpin: ${join(tree, 'Containerfile')} is a Dockerfile: without -w, .*use -w`));
    assert.equal(lines(result.stderr).length, 1, result.stderr);
  });

  test('check reports Dockerfile stages and compose services with FILE:LINE KIND/NAME, in text and JSON', async () => {
    const tree = join(dir, 'check');
    await mkdir(tree, { recursive: true });
    const dockerfilePath = join(tree, 'api.Dockerfile');
    const composePath = join(tree, 'stack.yml');
    await writeFile(dockerfilePath, dockerfile());
    await writeFile(composePath, compose());
    const requests = registry.requests().length;
    const text = await runCli(['check', '-f', dockerfilePath, '-f', composePath]);
    assert.equal(text.code, 0, text.stdout);
    assert.deepEqual(lines(text.stdout), [
      `${dockerfilePath}:3 stage/Build FROM ${host}/demo/app:v1 ok`,
      `${dockerfilePath}:9 stage/2 COPY ${host}/demo/web:1.0 ok`,
      `${composePath}:4 service/web /services/web/image ${host}/demo/web:1.0 ok`,
      `${composePath}:12 service/db /services/db/image ${host}/demo/app:v1 ok`,
      '4 images in 2 files: 4 ok, 0 violations, 0 invalid, 0 excluded',
    ]);
    // stack.yml is named directly, so its services are read although the name is not a compose name.
    assert.equal(lines(text.stderr).length, 3, text.stderr);

    const json = await runCli(['check', '-o', 'json', '-f', dockerfilePath]);
    const records = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(
      records.map(({ file, line, kind, name, namespace, path, image }) => ({ file, line, kind, name, namespace, path, image })),
      [
        { file: dockerfilePath, line: 3, kind: 'stage', name: 'Build', namespace: null, path: 'FROM', image: `${host}/demo/app:v1` },
        { file: dockerfilePath, line: 9, kind: 'stage', name: '2', namespace: null, path: 'COPY', image: `${host}/demo/web:1.0` },
      ],
    );
    assert.equal(registry.requests().length, requests, 'check asks no registry');
  });
});
