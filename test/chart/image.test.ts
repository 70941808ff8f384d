// The webhook image: no placeholder to install by accident, and the one given is what every pod runs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { runHelm } from '../support/helm.ts';
import { all, CHART, field, only, renderChart, TEST_IMAGE_REPOSITORY } from './render.ts';
import type { Rendered } from './render.ts';

const MESSAGE =
  "image.repository is required: build the image from the repository's Dockerfile, push it to your registry, and set --set image.repository=REGISTRY/tagpin";

/** Images of the webhook container and of the `helm test` pod. */
function images(r: readonly Rendered[]): { webhook: unknown; test: unknown } {
  const hook = all(r, 'Pod').find((p) => p.metadata.annotations?.['helm.sh/hook'] === 'test');
  return {
    webhook: field(only(r, 'Deployment'), 'spec', 'template', 'spec', 'containers', 0, 'image'),
    test: field(hook, 'spec', 'containers', 0, 'image'),
  };
}

describe('image.repository', () => {
  it('has no default in values.yaml', () => {
    const values = parse(readFileSync(join(import.meta.dirname, '..', '..', CHART, 'values.yaml'), 'utf8')) as { image: { repository: unknown } };
    assert.equal(values.image.repository, '');
  });

  for (const command of [
    ['template', 'tagpin', CHART, '--namespace', 'tagpin'],
    ['install', 'tagpin', CHART, '--namespace', 'tagpin', '--dry-run=client'],
  ]) {
    it(`left unset, \`helm ${command[0] ?? ''}\` fails with one line saying how to build and push the image`, () => {
      const result = runHelm(command);
      assert.notEqual(result.status, 0);
      const [first] = result.stderr.split('\n');
      assert.match(String(first), /^Error: .*execution error at \(tagpin\/templates\/[^)]+\): /);
      assert.ok(String(first).endsWith(MESSAGE), first);
      assert.equal(result.stdout.includes('kind: MutatingWebhookConfiguration'), false, 'no webhook without a server to call');
    });
  }

  it('set, names the image of the webhook and of the helm test pod, tagged with the chart appVersion', () => {
    assert.deepEqual(images(renderChart()), { webhook: `${TEST_IMAGE_REPOSITORY}:0.1.0`, test: `${TEST_IMAGE_REPOSITORY}:0.1.0` });
  });

  it('with a tag and digest, pulls by digest and keeps the tag for readability', () => {
    const digest = `sha256:${'c'.repeat(64)}`;
    const r = renderChart({ values: { image: { repository: 'registry.example.com/team/tagpin', tag: 2, digest } } });
    assert.equal(images(r).webhook, `registry.example.com/team/tagpin:2@${digest}`);
  });
});
