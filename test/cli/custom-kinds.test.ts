// `tagpin pin` and `tagpin check` on custom resources: workloads in --config decides which kinds are read, by API group.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startRegistry } from '../support/registry.ts';
import type { TestRegistry } from '../support/registry.ts';
import { copyFixture, fixtureText, removeDir, runCli, tempDir, writeConfig } from '../support/cli.ts';

const WORKLOADS = `workloads:
  presets: [argo-rollouts, knative-serving]
  customKinds:
    - {apiGroup: tekton.dev, kind: Task, resource: tasks, images: [/spec/steps/*/image]}
`;

describe('tagpin pin and check on custom resources', () => {
  let registry: TestRegistry;
  let dir: string;
  let host: string;
  let file: string;
  let config: string;
  const digests = new Map<string, string>();
  const pinned = (repositoryTag: string): string => `${host}/${repositoryTag}@${digests.get(repositoryTag) ?? 'missing'}`;

  before(async () => {
    registry = await startRegistry('http');
    host = registry.host;
    dir = await tempDir();
    for (const [repository, tag, kind] of [['demo/app', 'v1', 'oci-index'], ['demo/web', '1.0', 'docker-manifest'], ['demo/sidecar', '2', 'oci-manifest']] as const) {
      await registry.push(repository, tag, kind);
      digests.set(`${repository}:${tag}`, await registry.digest(repository, tag));
    }
    file = await copyFixture('custom-kinds.yaml', dir, host);
    config = await writeConfig(dir, 'workloads.yaml', WORKLOADS);
  });
  after(async () => {
    await registry?.stop();
    await removeDir(dir);
  });

  test('pins the Rollout, the Knative Service and the Task fields, leaves the core Service and every other byte alone', async () => {
    const result = await runCli(['pin', '--config', config, '-f', file, '--insecure-registry', host]);
    assert.equal(result.code, 0, result.stderr);
    const original = await fixtureText('custom-kinds.yaml', host);
    const expected = original
      .replace(`image: ${host}/demo/app:v1   # pinned by the preset`, `image: ${pinned('demo/app:v1')}   # pinned by the preset`)
      .replace(`image: "${host}/demo/web:1.0"}`, `image: "${pinned('demo/web:1.0')}"}`)
      .replace(`- image: ${host}/demo/sidecar:2`, `- image: ${pinned('demo/sidecar:2')}`)
      .replace(`      image: ${host}/demo/web:1.0\n`, `      image: ${pinned('demo/web:1.0')}\n`);
    assert.equal(result.stdout, expected);
    assert.ok(result.stdout.includes(`containers: [{image: "${host}/demo/app:v1"}]`), 'the core Service keeps its tag');
  });

  test('without workloads, pin leaves custom resources as they are and check does not list them', async () => {
    const pin = await runCli(['pin', '-f', file, '--insecure-registry', host]);
    assert.equal(pin.code, 0, pin.stderr);
    assert.equal(pin.stdout, await fixtureText('custom-kinds.yaml', host));
    const check = await runCli(['check', '-o', 'json', '-f', file]);
    assert.deepEqual(JSON.parse(check.stdout), []);
  });

  test('pins a custom kind only when mutate.kinds names it, once that list is set', async () => {
    const rolloutsOnly = await writeConfig(dir, 'rollouts-only.yaml', `${WORKLOADS}mutate: {kinds: [Rollout]}\n`);
    const result = await runCli(['pin', '--config', rolloutsOnly, '-f', file, '--insecure-registry', host]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(result.stdout.includes(pinned('demo/app:v1')));
    assert.ok(result.stdout.includes(`- image: ${host}/demo/sidecar:2`), 'the Knative Service is not in mutate.kinds');
  });

  test('check judges the images of every custom kind, with their paths and kinds', async () => {
    const result = await runCli(['check', '--config', config, '-o', 'json', '-f', file]);
    assert.equal(result.code, 0, result.stderr);
    const records = JSON.parse(result.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(
      records.map((r) => [r['kind'], r['path'], r['verdict']]),
      [
        ['Rollout', '/spec/template/spec/containers/0/image', 'ok'],
        ['Rollout', '/spec/template/spec/initContainers/0/image', 'ok'],
        ['Service', '/spec/template/spec/containers/0/image', 'ok'],
        ['Task', '/spec/steps/0/image', 'ok'],
      ],
    );
  });

  test('a bad custom kind stops the command with one line naming the file, the field and the fix', async () => {
    const bad = await writeConfig(dir, 'bad.yaml', 'workloads:\n  customKinds:\n    - {apiGroup: tekton.dev, kind: Task, images: [/spec/steps/*/image]}\n');
    const result = await runCli(['check', '--config', bad, '-f', file]);
    assert.equal(result.code, 2);
    assert.equal(result.stderr, `tagpin: config ${bad}: workloads.customKinds[0].resource is missing: the plural resource name the webhook rules match (the CRD's spec.names.plural), e.g. rollouts\n`);
  });
});
