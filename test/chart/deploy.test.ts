// deploy/: the static manifests for `kubectl apply -f deploy/` stay exactly what the chart renders.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEPLOY_FILE, DEPLOY_IMAGE_PLACEHOLDER, DEPLOY_RELEASE, renderDeployManifests } from '../../scripts/render-deploy.ts';
import { schemaErrors, unknownFieldErrors } from './kube-validate.ts';
import { all, field, only, parseManifests } from './render.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const text = readFileSync(join(repoRoot, DEPLOY_FILE), 'utf8');
const rendered = parseManifests(text);
const objects = rendered.map((r) => r.object);

describe('deploy/', () => {
  it('is exactly what the chart renders today (run `npm run render:deploy` after changing the chart)', () => {
    // Compared line by line first, so a drift names the line rather than dumping the file.
    const expected = renderDeployManifests();
    const have = text.split('\n');
    const want = expected.split('\n');
    const first = want.findIndex((line, i) => have[i] !== line);
    assert.equal(first === -1 && have.length === want.length, true, `${DEPLOY_FILE} drifted at line ${String(first + 1)}: have ${JSON.stringify(have[first])}, chart renders ${JSON.stringify(want[first])}`);
  });

  it('holds only YAML manifests kubectl will apply', () => {
    const files = readdirSync(join(repoRoot, 'deploy'));
    assert.deepEqual(files.filter((f) => /\.(ya?ml|json)$/.test(f)), ['tagpin.yaml']);
  });

  it('creates the namespace first, labelled for the restricted Pod Security Standard', () => {
    const [first] = objects;
    assert.equal(first?.kind, 'Namespace');
    assert.equal(first.metadata.name, DEPLOY_RELEASE.namespace);
    assert.equal(first.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
    for (const object of objects.slice(1)) {
      if (object.metadata.namespace !== undefined) assert.equal(object.metadata.namespace, DEPLOY_RELEASE.namespace);
    }
  });

  it('carries no generated key: cert-manager issues the certificate and injects the CA', () => {
    assert.doesNotMatch(text, /PRIVATE KEY|BEGIN CERTIFICATE/);
    assert.doesNotMatch(JSON.stringify(objects), /caBundle/);
    assert.deepEqual(all(rendered, 'Secret'), []);
    const serving = all(rendered, 'Certificate').find((c) => field(c, 'spec', 'isCA') !== true);
    assert.ok(serving !== undefined);
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      assert.equal(only(rendered, kind).metadata.annotations?.['cert-manager.io/inject-ca-from'], `${DEPLOY_RELEASE.namespace}/${serving.metadata.name}`);
    }
  });

  it('names a placeholder image that can never be pulled, and says in its header how to set the real one', () => {
    const containers = field(only(rendered, 'Deployment'), 'spec', 'template', 'spec', 'containers') as Array<{ image: string }>;
    assert.deepEqual(containers.map((c) => c.image.split(':')[0]), [DEPLOY_IMAGE_PLACEHOLDER]);
    assert.match(DEPLOY_IMAGE_PLACEHOLDER, /^[^/]+\.invalid\//, 'the reserved .invalid domain never resolves');
    const header = text.slice(0, text.indexOf('\n---'));
    assert.ok(header.includes(`kustomize edit set image ${DEPLOY_IMAGE_PLACEHOLDER}=REGISTRY/tagpin:TAG`), 'kustomize');
    assert.ok(header.includes('kubectl -n tagpin set image deployment/tagpin tagpin=REGISTRY/tagpin:TAG'), 'kubectl');
    assert.match(header, /Dockerfile/);
  });

  it('leaves Helm hooks out (no test pod to apply by accident)', () => {
    assert.deepEqual(objects.filter((o) => o.metadata.annotations?.['helm.sh/hook'] !== undefined), []);
    assert.deepEqual(objects.filter((o) => o.kind === 'Pod'), []);
  });

  it('holds only objects valid against the Kubernetes schemas and their fields', () => {
    assert.deepEqual(objects.flatMap((o) => schemaErrors(o)), []);
    assert.deepEqual(unknownFieldErrors(objects), []);
  });
});
