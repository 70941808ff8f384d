// Kubernetes objects as `kubectl create … --dry-run=client -o json` prints them, one container per image.
/** What the builders below may add to an object. */
export interface ObjectOptions {
  /** @default 'demo' */
  readonly namespace?: string;
  /** Environment of every container. */
  readonly env?: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  /** Merged into the pod spec: serviceAccountName, imagePullSecrets, ephemeralContainers, … */
  readonly spec?: Readonly<Record<string, unknown>>;
}

/** A pod spec with containers c0, c1, … running `images` (values that are not strings are kept as they are). */
export function podSpec(images: readonly unknown[], options: ObjectOptions = {}): Record<string, unknown> {
  return {
    containers: images.map((image, i) => ({
      name: `c${String(i)}`,
      image,
      resources: {},
      ...(options.env === undefined ? {} : { env: options.env }),
    })),
    ...options.spec,
  };
}

/** Pod `p`. */
export function pod(images: readonly unknown[], options: ObjectOptions = {}): Record<string, unknown> {
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: { name: 'p', namespace: options.namespace ?? 'demo', creationTimestamp: null },
    spec: podSpec(images, options),
    status: {},
  };
}

/** Deployment `web`. */
export function deployment(images: readonly unknown[], options: ObjectOptions = {}): Record<string, unknown> {
  return {
    kind: 'Deployment',
    apiVersion: 'apps/v1',
    metadata: { name: 'web', namespace: options.namespace ?? 'demo', creationTimestamp: null },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { creationTimestamp: null, labels: { app: 'web' } }, spec: podSpec(images, options) },
      strategy: {},
    },
    status: {},
  };
}

/** Job `migrate`. */
export function job(images: readonly unknown[], options: ObjectOptions = {}): Record<string, unknown> {
  return {
    kind: 'Job',
    apiVersion: 'batch/v1',
    metadata: { name: 'migrate', namespace: options.namespace ?? 'demo', creationTimestamp: null },
    spec: { template: { metadata: { creationTimestamp: null }, spec: { ...podSpec(images, options), restartPolicy: 'Never' } } },
    status: {},
  };
}

/** Argo Rollouts `Rollout` `web` (argoproj.io/v1alpha1): a Deployment's pod template under a canary strategy. */
export function rollout(images: readonly unknown[], options: ObjectOptions = {}): Record<string, unknown> {
  return {
    kind: 'Rollout',
    apiVersion: 'argoproj.io/v1alpha1',
    metadata: { name: 'web', namespace: options.namespace ?? 'demo' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: podSpec(images, options) },
      strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } },
    },
  };
}

/** Knative Serving `Service` `hello` (serving.knative.dev/v1): a revision template holding a pod spec. */
export function knativeService(images: readonly unknown[], options: ObjectOptions = {}): Record<string, unknown> {
  return {
    kind: 'Service',
    apiVersion: 'serving.knative.dev/v1',
    metadata: { name: 'hello', namespace: options.namespace ?? 'demo' },
    spec: { template: { metadata: { annotations: { 'autoscaling.knative.dev/min-scale': '1' } }, spec: { containerConcurrency: 0, ...podSpec(images, options) } } },
  };
}
