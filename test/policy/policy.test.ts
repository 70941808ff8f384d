// Policy: validation verdicts, exclusions and mutation plans.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_CONFIG, parseConfig } from '../../src/config/index.ts';
import type { Config } from '../../src/config/index.ts';
import { isImageExcluded, isNamespaceExcluded, planMutation, validateImage } from '../../src/policy/index.ts';
import { parseReference } from '../../src/reference/index.ts';
import { listImages } from '../../src/workload/index.ts';

// A well-formed digest for reference syntax only; no registry produced it and nothing resolves it.
const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

/** A config from YAML, as users write it (regexes compiled by the real config loader). */
function config(yaml: string): Config {
  return parseConfig(yaml, 'test.yaml');
}

function verdictOf(image: unknown, cfg: Config = DEFAULT_CONFIG): { verdict: string; reason?: string } {
  const { verdict, reason } = validateImage(image, cfg);
  return reason === undefined ? { verdict } : { verdict, reason };
}

describe('validateImage', () => {
  it('calls non-string and empty values invalid', () => {
    assert.deepEqual(verdictOf(42), { verdict: 'invalid', reason: 'image is not a string (got number)' });
    assert.deepEqual(verdictOf(null), { verdict: 'invalid', reason: 'image is not a string (got null)' });
    assert.deepEqual(verdictOf(['nginx']), { verdict: 'invalid', reason: 'image is not a string (got object)' });
    assert.deepEqual(verdictOf(''), { verdict: 'invalid', reason: 'image is empty' });
  });

  it('calls unparsable references invalid with the parser’s reason', () => {
    for (const image of ['NGINX:1.27', 'nginx:', 'nginx@sha256:short', ' nginx', 'a//b']) {
      const result = validateImage(image, DEFAULT_CONFIG);
      assert.equal(result.verdict, 'invalid', image);
      assert.match(result.reason ?? '', /invalid image reference/, image);
      assert.equal(result.ref, undefined);
    }
  });

  it('passes a tagged image under the defaults and returns the parsed reference', () => {
    const result = validateImage('nginx:1.27', DEFAULT_CONFIG);
    assert.equal(result.verdict, 'ok');
    assert.equal(result.reason, undefined);
    assert.equal(result.ref?.repository, 'library/nginx');
    assert.equal(result.ref?.tag, '1.27');
  });

  it('denies tag latest without a digest (denyLatest)', () => {
    assert.deepEqual(verdictOf('nginx:latest'), { verdict: 'violation', reason: 'tag latest is mutable' });
    assert.deepEqual(verdictOf('nginx:latest', config('validate: {denyLatest: false}')), { verdict: 'ok' });
  });

  it('denies an image with neither tag nor digest (denyUntagged)', () => {
    const untagged = { verdict: 'violation', reason: 'no tag or digest (resolves to latest)' };
    assert.deepEqual(verdictOf('nginx'), untagged);
    assert.deepEqual(verdictOf('ghcr.io/org/app'), untagged);
    assert.deepEqual(verdictOf('nginx', config('validate: {denyUntagged: false}')), { verdict: 'ok' });
  });

  it('reads registry:5000/app as untagged, not as tag 5000', () => {
    assert.deepEqual(verdictOf('registry:5000/app'), { verdict: 'violation', reason: 'no tag or digest (resolves to latest)' });
    assert.deepEqual(verdictOf('registry:5000/app:5000'), { verdict: 'ok' });
  });

  it('passes anything with a digest, even with tag latest or under every rule', () => {
    const strict = config(
      'validate: {requireDigest: true, mutableTags: [".*"], allowedTags: ["v1"], denyLatest: true, denyUntagged: true}',
    );
    for (const image of [`app@${DIGEST}`, `app:latest@${DIGEST}`, `registry:5000/app@${DIGEST}`, `nginx:dev@${DIGEST}`]) {
      assert.deepEqual(verdictOf(image, strict), { verdict: 'ok' }, image);
    }
  });

  it('demands a digest on every image with requireDigest', () => {
    const cfg = config('validate: {requireDigest: true}');
    assert.deepEqual(verdictOf('nginx:1.27', cfg), { verdict: 'violation', reason: 'no digest (requireDigest)' });
    assert.deepEqual(verdictOf('nginx', cfg), { verdict: 'violation', reason: 'no digest (requireDigest)' });
  });

  it('denies a tag that matches mutableTags as a whole', () => {
    const cfg = config('validate: {mutableTags: ["main|dev", "v\\\\d+"]}');
    assert.deepEqual(verdictOf('app:dev', cfg), { verdict: 'violation', reason: 'tag dev matches mutableTags "main|dev"' });
    assert.deepEqual(verdictOf('app:v2', cfg), { verdict: 'violation', reason: 'tag v2 matches mutableTags "v\\\\d+"' });
    assert.deepEqual(verdictOf('app:v2.1.0', cfg), { verdict: 'ok' }, 'v\\d+ does not match a longer tag');
    assert.deepEqual(verdictOf('app:maintenance', cfg), { verdict: 'ok' });
  });

  it('denies a tag outside a non-empty allowedTags', () => {
    const cfg = config('validate: {allowedTags: ["v\\\\d+\\\\.\\\\d+\\\\.\\\\d+"]}');
    assert.deepEqual(verdictOf('app:v1.2.3', cfg), { verdict: 'ok' });
    assert.deepEqual(verdictOf('app:v1.2', cfg), {
      verdict: 'violation',
      reason: 'tag v1.2 is not in allowedTags and has no digest',
    });
    assert.deepEqual(verdictOf('app:xv1.2.3', cfg), {
      verdict: 'violation',
      reason: 'tag xv1.2.3 is not in allowedTags and has no digest',
    });
  });

  it('leaves untagged images to denyUntagged alone', () => {
    const cfg = config('validate: {denyUntagged: false, allowedTags: ["v1"], mutableTags: [".*"]}');
    assert.deepEqual(verdictOf('nginx', cfg), { verdict: 'ok' });
  });

  it('reports excluded images before judging them', () => {
    const cfg = config('exclude: {images: ["docker.io/istio/*"]}');
    const result = validateImage('istio/proxyv2:latest', cfg);
    assert.equal(result.verdict, 'excluded');
    assert.equal(result.reason, 'matches exclude.images "docker.io/istio/*"');
    assert.equal(result.ref?.registry, 'docker.io');
  });

  it('calls a bad value invalid even when a glob would exclude everything', () => {
    const cfg = config('exclude: {images: ["*"]}');
    assert.equal(validateImage(7, cfg).verdict, 'invalid');
    assert.equal(validateImage('NGINX', cfg).verdict, 'invalid');
    assert.equal(validateImage('nginx', cfg).verdict, 'excluded');
  });
});

describe('isNamespaceExcluded', () => {
  it('matches configured namespaces exactly', () => {
    assert.equal(isNamespaceExcluded('kube-system', DEFAULT_CONFIG.exclude), true);
    assert.equal(isNamespaceExcluded('kube-system-x', DEFAULT_CONFIG.exclude), false);
    assert.equal(isNamespaceExcluded('default', DEFAULT_CONFIG.exclude), false);
  });

  it('never excludes objects without a namespace', () => {
    assert.equal(isNamespaceExcluded(undefined, DEFAULT_CONFIG.exclude), false);
    assert.equal(isNamespaceExcluded('', DEFAULT_CONFIG.exclude), false);
  });
});

describe('isImageExcluded', () => {
  const excluded = (image: string, ...images: string[]): boolean =>
    isImageExcluded(parseReference(image), { namespaces: [], images });

  it('matches a glob against the image as written', () => {
    assert.equal(excluded('istio/proxyv2:1.22', 'istio/proxyv2:*'), true);
    assert.equal(excluded('istio/pilot:1.22', 'istio/proxyv2:*'), false);
  });

  it('matches a glob against the normalized form', () => {
    assert.equal(excluded('istio/proxyv2:1.22', 'docker.io/istio/*'), true);
    assert.equal(excluded('nginx:1.27', 'docker.io/library/nginx:*'), true);
    assert.equal(excluded('index.docker.io/istio/proxyv2:1.22', 'docker.io/istio/*'), true);
  });

  it('lets a glob without a tag cover every tag and digest of that name', () => {
    assert.equal(excluded('nginx:1.27', 'nginx'), true);
    assert.equal(excluded(`nginx@${DIGEST}`, 'docker.io/library/nginx'), true);
    assert.equal(excluded('nginx-evil:1.27', 'nginx'), false);
  });

  it('matches whole strings only, so a prefix does not leak to look-alike names', () => {
    assert.equal(excluded('istio-evil/proxyv2:1.22', 'docker.io/istio/*'), false);
    assert.equal(excluded('ghcr.io/istio/x:1', 'docker.io/istio/*'), false);
    assert.equal(excluded('evil.io/docker.io/istio/x:1', 'docker.io/istio/*'), false);
  });

  it('lets * cross / and :, ? match one character, and treats the rest literally', () => {
    assert.equal(excluded('127.0.0.1:5000/team/sub/app:v1', '127.0.0.1:5000/*'), true);
    assert.equal(excluded('app:v1', 'app:v?'), true);
    assert.equal(excluded('app:v10', 'app:v?'), false);
    assert.equal(excluded('reg.io/app:v1', 'reg?io/app:*'), true);
    assert.equal(excluded('regxio/app:v1', 'reg.io/app:*'), false, '. is literal');
    assert.equal(excluded('app:v1', 'app:(v1|v2)'), false, 'regex syntax is literal');
  });

  it('excludes nothing with no globs', () => {
    assert.equal(excluded('nginx'), false);
  });
});

describe('planMutation', () => {
  it('resolves tags, keeps digests, skips excluded and flags invalid values', () => {
    const deployment = {
      kind: 'Deployment',
      spec: {
        template: {
          spec: {
            containers: [
              { name: 'web', image: 'nginx:1.27' },
              { name: 'pinned', image: `nginx:1.27@${DIGEST}` },
              { name: 'mesh', image: 'istio/proxyv2:1.22' },
              { name: 'typo', image: 'NGINX' },
              { name: 'number', image: 5 },
              { name: 'untagged', image: 'registry:5000/app' },
            ],
          },
        },
      },
    };
    const cfg = config('exclude: {images: ["istio/*"]}');
    const steps = planMutation(listImages('Deployment', deployment), cfg);
    assert.deepEqual(
      steps.map((s) => [s.field.name, s.action]),
      [
        ['web', 'resolve'],
        ['pinned', 'keep'],
        ['mesh', 'excluded'],
        ['typo', 'invalid'],
        ['number', 'invalid'],
        ['untagged', 'resolve'],
      ],
    );
    assert.equal(steps[0]?.ref?.tag, '1.27');
    assert.equal(steps[1]?.ref?.digest, DIGEST);
    assert.equal(steps[2]?.reason, 'matches exclude.images "istio/*"');
    assert.match(steps[3]?.reason ?? '', /invalid image reference "NGINX"/);
    assert.equal(steps[4]?.reason, 'image is not a string (got number)');
    assert.equal(steps[5]?.ref?.registry, 'registry:5000');
  });

  it('plans nothing for no fields', () => {
    assert.deepEqual(planMutation([], DEFAULT_CONFIG), []);
  });
});
