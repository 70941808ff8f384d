// A second, tiny mutating webhook that adds a tagged sidecar to every Pod, as service meshes do.
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Pki } from '../../support/pki.ts';
import type { Json } from './kubectl.ts';

/** A running injector. */
export interface SidecarInjector {
  /** `https://127.0.0.1:PORT/inject` */
  readonly url: string;
  /** How many AdmissionReviews it answered. */
  calls(): number;
  close(): Promise<void>;
}

/** Serves `/inject` over TLS with a certificate from `pki`: adds container `sidecar` running `image` unless present. */
export async function startSidecarInjector(pki: Pki, image: string): Promise<SidecarInjector> {
  const serving = await pki.issue('sidecar-injector', []);
  let calls = 0;
  const server: Server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      calls += 1;
      const review = JSON.parse(body) as { request: { uid: string; object: { spec: { containers: Json[] } } } };
      const present = review.request.object.spec.containers.some((c) => c['name'] === 'sidecar');
      const patch = present ? [] : [{ op: 'add', path: '/spec/containers/-', value: { name: 'sidecar', image } }];
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: {
          uid: review.request.uid,
          allowed: true,
          ...(present ? {} : { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') }),
        },
      }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${String(port)}/inject`,
    calls: () => calls,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => {
        resolve();
      });
    }),
  };
}

/**
 * Its MutatingWebhookConfiguration for Pods in `namespace`. The API server calls configurations in
 * name order, so a name after "tagpin" makes it run after tagpin, which then needs reinvocation.
 */
export function injectorConfiguration(injector: SidecarInjector, caPem: string, namespace: string): Json {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'zz-sidecar-injector' },
    webhooks: [{
      name: 'inject.sidecar.test',
      clientConfig: { url: injector.url, caBundle: Buffer.from(caPem).toString('base64') },
      rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      failurePolicy: 'Fail',
      reinvocationPolicy: 'Never',
      timeoutSeconds: 10,
    }],
  };
}
