// Renders deploy/tagpin.yaml (for `kubectl apply -f deploy/`) from charts/tagpin, cert-manager variant.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { runHelm } from '../test/support/helm.ts';

/** The rendered file, relative to the repository root. */
export const DEPLOY_FILE = 'deploy/tagpin.yaml';

/** Release name and namespace of the static install; `kubectl apply` users get these names. */
export const DEPLOY_RELEASE = { name: 'tagpin', namespace: 'tagpin' } as const;

/**
 * The image the static manifests name until users set theirs: `.invalid` never resolves, so a
 * forgotten replacement fails to pull with this name in the error rather than running something else.
 */
export const DEPLOY_IMAGE_PLACEHOLDER = 'your-registry.invalid/tagpin';

/**
 * Helm arguments of the static variant. cert-manager issues and rotates the serving certificate,
 * so no private key is ever written into the repository.
 */
export const DEPLOY_HELM_ARGS: readonly string[] = [
  'template',
  DEPLOY_RELEASE.name,
  'charts/tagpin',
  '--namespace',
  DEPLOY_RELEASE.namespace,
  '--skip-tests',
  '--set',
  'tls.mode=cert-manager',
  '--set',
  `image.repository=${DEPLOY_IMAGE_PLACEHOLDER}`,
];

const header = `# tagpin: static manifests for \`kubectl apply -f deploy/\`. Needs cert-manager in the cluster.
# The image ${DEPLOY_IMAGE_PLACEHOLDER} is a placeholder that never resolves: build the image from the
# repository's Dockerfile, push it to your registry, and set it before applying, e.g. from a directory
# holding a copy of this file:
#   kustomize create --resources tagpin.yaml
#   kustomize edit set image ${DEPLOY_IMAGE_PLACEHOLDER}=REGISTRY/tagpin:TAG
#   kubectl apply -k .
# \`kubectl -n ${DEPLOY_RELEASE.namespace} set image deployment/tagpin tagpin=REGISTRY/tagpin:TAG\` after applying works
# too, but until its pods are ready the webhooks (failurePolicy Fail) refuse admissions in matched namespaces.
# Generated from charts/tagpin (tls.mode=cert-manager) by \`npm run render:deploy\`; do not edit,
# change the chart and re-run it (a test fails when this file and the chart disagree).
---
# The namespace meets the "restricted" Pod Security Standard, as tagpin's pods do.
apiVersion: v1
kind: Namespace
metadata:
  name: ${DEPLOY_RELEASE.namespace}
  labels:
    pod-security.kubernetes.io/enforce: restricted
`;

/** The full text deploy/tagpin.yaml must hold: header, Namespace, then the chart's objects. */
export function renderDeployManifests(): string {
  const result = runHelm(DEPLOY_HELM_ARGS);
  if (result.status !== 0) {
    throw new Error(`helm ${DEPLOY_HELM_ARGS.join(' ')} failed: ${result.stderr.trim()}`);
  }
  return `${header}${result.stdout.startsWith('---') ? '' : '---\n'}${result.stdout}`;
}

function main(argv: readonly string[]): number {
  const file = resolve(import.meta.dirname, '..', DEPLOY_FILE);
  const rendered = renderDeployManifests();
  if (argv.includes('--check')) {
    const current = readFileSync(file, 'utf8');
    if (current === rendered) return 0;
    process.stderr.write(`${DEPLOY_FILE} is out of date with charts/tagpin: run npm run render:deploy\n`);
    return 1;
  }
  writeFileSync(file, rendered);
  process.stdout.write(`wrote ${DEPLOY_FILE}\n`);
  return 0;
}

if (import.meta.main) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`render-deploy: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  }
}
