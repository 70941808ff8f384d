// Reading compose files: which documents are compose documents, and which service images are read.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { composeImages, isComposeFileName } from '../../src/cli/compose.ts';

describe('composeImages', () => {
  test('lists services.*.image with pointers, marking built and interpolated images as skipped', () => {
    const images = composeImages({
      services: {
        web: { image: 'nginx:1.27' },
        'a/b': { image: 'redis:7' },
        worker: { build: '.', image: 'acme/worker:dev' },
        cache: { image: 'memcached:${TAG}' },
        job: { build: { context: '.' } },
        odd: { image: 42 },
      },
    });
    assert.deepEqual(images, [
      { service: 'web', pointer: '/services/web/image', value: 'nginx:1.27' },
      { service: 'a/b', pointer: '/services/a~1b/image', value: 'redis:7' },
      { service: 'worker', pointer: '/services/worker/image', value: 'acme/worker:dev', skip: 'builds its image (build:), so image: names what it builds' },
      { service: 'cache', pointer: '/services/cache/image', value: 'memcached:${TAG}', skip: 'uses variable interpolation' },
      { service: 'odd', pointer: '/services/odd/image', value: 42 },
    ]);
  });

  test('a document with a kind, without services, or with services that are not a mapping is not compose', () => {
    for (const data of [{ kind: 'Pod', services: {} }, { version: '3' }, { services: ['web'] }, 'services', null]) {
      assert.equal(composeImages(data), undefined, JSON.stringify(data));
    }
  });

  test('compose file names, overrides included', () => {
    for (const name of ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'dir/docker-compose.yml', 'compose.override.yaml', 'docker-compose.prod.yml', 'Compose.YAML']) {
      assert.ok(isComposeFileName(name), name);
    }
    for (const name of ['compose.json', 'mycompose.yaml', 'compose', 'docker-compose.yml.bak']) assert.ok(!isComposeFileName(name), name);
  });
});
