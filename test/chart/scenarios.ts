// The value combinations every chart test renders: one per way platform teams install tagpin.
import { TEST_IMAGE_REPOSITORY } from './render.ts';

/** A named install: values, release name and namespace. */
export interface Scenario {
  readonly name: string;
  readonly release: string;
  readonly namespace: string;
  readonly values: Readonly<Record<string, unknown>>;
}

/**
 * The scenarios, each with image.repository set (the chart requires it). `caBundle` is a PEM CA for
 * the existing-Secret install (tests create a real one), so that scenario can be checked end to end
 * with a TLS handshake.
 */
export function scenarios(caBundle: string): readonly Scenario[] {
  return installs(caBundle).map((s) => ({
    ...s,
    values: { ...s.values, image: { repository: TEST_IMAGE_REPOSITORY, ...(s.values.image as object | undefined) } },
  }));
}

function installs(caBundle: string): readonly Scenario[] {
  const base = { release: 'tagpin', namespace: 'tagpin' };
  return [
    { ...base, name: 'defaults', values: {} },
    { ...base, name: 'cert-manager', values: { tls: { mode: 'cert-manager' } } },
    {
      ...base,
      name: 'cert-manager with an existing ClusterIssuer',
      values: { tls: { mode: 'cert-manager', certManager: { issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer' } } } },
    },
    {
      release: 'corp',
      namespace: 'platform',
      name: 'existing secret',
      values: { tls: { mode: 'secret', secretName: 'corp-webhook-tls', secret: { caBundle } } },
    },
    { ...base, name: 'validate only', values: { webhooks: { mutating: { enabled: false } } } },
    { ...base, name: 'background audits', values: { audit: { enabled: true, intervalSeconds: 600 } } },
    { ...base, name: 'mutate only', values: { webhooks: { validating: { enabled: false } } } },
    { ...base, name: 'opt-in namespaces', values: { webhooks: { optIn: { enabled: true, labelKey: 'tagpin.dev/pin', labelValue: 'on' } } } },
    {
      ...base,
      name: 'outside the cluster, opt-out label',
      values: { webhooks: { url: 'https://127.0.0.1:8443', optOut: { labelKey: 'example.com/no-pinning', labelValue: 'yes' } } },
    },
    {
      release: 'dev',
      namespace: 'tagpin',
      name: 'cert-manager outside the cluster',
      values: { tls: { mode: 'cert-manager', certManager: { namespace: 'security' } }, webhooks: { url: 'https://tagpin.dev-box.example:9443/hooks/' } },
    },
    {
      ...base,
      name: 'custom failurePolicy and timeout',
      values: { webhooks: { failurePolicy: 'Ignore', timeoutSeconds: 5, validating: { failurePolicy: 'Fail' } } },
    },
    {
      release: 'edge',
      namespace: 'platform-tools',
      name: 'pods only, one replica, warn',
      values: {
        replicaCount: 1,
        config: {
          mutate: { kinds: ['Pod'], output: 'digest' },
          validate: { action: 'warn', mutableTags: ['^v?\\d+$'] },
          exclude: { namespaces: ['kube-system', 'ci-sandbox'] },
          resolve: { timeoutMs: 4000, onError: 'allow' },
        },
      },
    },
    {
      ...base,
      name: 'every optional object',
      values: {
        commonLabels: { team: 'platform' },
        image: { digest: `sha256:${'ab'.repeat(32)}` },
        imagePullSecrets: [{ name: 'ghcr-pull' }],
        priorityClassName: 'system-cluster-critical',
        podAnnotations: { 'example.com/owner': 'platform' },
        webhooks: {
          objectSelector: { matchExpressions: [{ key: 'tagpin.dev/skip', operator: 'DoesNotExist' }] },
          matchConditions: [{ name: 'not-kubelet', expression: "!request.userInfo.username.startsWith('system:node:')" }],
        },
        config: {
          registries: {
            caFile: '/etc/registry-ca/ca.crt',
            insecure: ['registry.internal:5000'],
            allow: ['*.internal', 'ghcr.io'],
            mirrors: { 'ghcr.io': ['https://harbor.internal/v2/ghcr', 'http://registry.internal:5000'] },
          },
        },
        extraVolumes: [{ name: 'registry-ca', configMap: { name: 'registry-ca' } }],
        extraVolumeMounts: [{ name: 'registry-ca', mountPath: '/etc/registry-ca', readOnly: true }],
        metrics: { serviceMonitor: { enabled: true, labels: { release: 'prometheus' } } },
        networkPolicy: {
          enabled: true,
          webhookFrom: [{ ipBlock: { cidr: '10.0.0.0/8' } }],
          metricsFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
          egress: [{}],
        },
      },
    },
    {
      ...base,
      name: 'EKS, credentials from the node\'s ecr-credential-provider',
      values: {
        serviceAccount: { annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/tagpin-ecr-read' } },
        credentialProviders: {
          enabled: true,
          config: {
            apiVersion: 'kubelet.config.k8s.io/v1',
            kind: 'CredentialProviderConfig',
            providers: [
              {
                name: 'ecr-credential-provider',
                matchImages: ['*.dkr.ecr.*.amazonaws.com', '*.dkr.ecr.*.amazonaws.com.cn'],
                defaultCacheDuration: '12h',
                apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
              },
            ],
          },
          plugins: { hostPath: { path: '/etc/eks/image-credential-provider', type: 'Directory' } },
        },
      },
    },
  ];
}
