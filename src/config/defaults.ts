// The documented default configuration, as data and as the commented YAML users start from.
import { SUPPORTED_KINDS } from '../workload/index.ts';
import type { Config } from './types.ts';

/** Every key at its documented default (frozen: share it, never mutate it). */
export const DEFAULT_CONFIG: Config = deepFreeze({
  mutate: { enabled: true, output: 'tag-digest', kinds: [...SUPPORTED_KINDS] },
  workloads: { presets: [], customKinds: [] },
  validate: {
    action: 'deny',
    denyLatest: true,
    denyUntagged: true,
    mutableTags: [],
    allowedTags: [],
    requireDigest: false,
  },
  exclude: { namespaces: ['kube-system'], images: [] },
  registries: { insecure: [], caFile: null, allow: [], privateHosts: [], dockerConfig: null, mirrors: {}, credentialProviders: null },
  resolve: { timeoutMs: 8000, onError: 'deny' },
  cache: { ttlSeconds: 300, maxEntries: 10000 },
  server: { port: 8443, metricsPort: 9090, tlsCert: null, tlsKey: null },
  audit: { enabled: false, intervalSeconds: 3600, lookupsPerSecond: 10, leaseNamespace: null, leaseName: 'tagpin-audit' },
});

/**
 * The full default configuration as commented YAML, identical to docs/contract.md, "Default file".
 * Parsing it yields DEFAULT_CONFIG (a test holds the two together).
 */
export const DEFAULT_CONFIG_YAML = `mutate:
  enabled: true
  output: tag-digest        # tag-digest: nginx:1.27@sha256:…   digest: nginx@sha256:…
  # kinds: [Pod, PodTemplate, ReplicationController, ReplicaSet, Deployment, StatefulSet, DaemonSet, Job, CronJob]
                            # unset: these nine and every kind of workloads
workloads:
  presets: []               # argo-rollouts (Rollout), knative-serving (Service)
  customKinds: []           # [{apiGroup, kind, resource, versions, podSpecs, images}]: custom resources
validate:
  action: deny              # deny | warn | audit  (what /validate and \`check\` do with violations)
  denyLatest: true          # tag "latest" without a digest
  denyUntagged: true        # neither tag nor digest
  mutableTags: []           # regexes; a matching tag without a digest is a violation
  allowedTags: []           # regexes; when non-empty, any tag matching none of them needs a digest
  requireDigest: false      # every image needs a digest
exclude:
  namespaces: [kube-system]
  images: []                # globs, matched against the image as written and its normalized form
registries:
  insecure: []              # host[:port] reached over plain HTTP
  caFile: null              # extra PEM bundle trusted for registry and token-server TLS
  allow: []                 # host globs; when non-empty, no other registry is contacted
  privateHosts: []          # host globs that may resolve to loopback/private addresses (the server's guard)
  dockerConfig: null        # docker config.json with credentials (auths, credHelpers, credsStore)
  mirrors: {}               # {REGISTRY: [URL, …]}: mirrors tried in order before the registry itself
  credentialProviders: null # {config: FILE, binDir: DIR}: kubelet credential provider plugins
resolve:
  timeoutMs: 8000           # budget for all lookups of one admission or one CLI image
  onError: deny             # deny | allow  (allow: admit unchanged, with a warning, an audit
                            #  record and a metric; never silently)
cache:
  ttlSeconds: 300
  maxEntries: 10000
server:
  port: 8443                # HTTPS: /mutate, /validate, /healthz, /readyz
  metricsPort: 9090         # plain HTTP: /metrics
  tlsCert: null             # PEM files, reloaded when they change; when absent a self-signed
  tlsKey: null              #  certificate for localhost is generated and a warning logged
audit:
  enabled: false            # serve: one replica scans the cluster and writes PolicyReports
  intervalSeconds: 3600     # from the end of one scan to the start of the next
  lookupsPerSecond: 10      # registry lookups a scan starts per second at most
  leaseNamespace: null      # the Lease that elects the scanning replica; null: $POD_NAMESPACE
  leaseName: tagpin-audit
`;

/** Freezes plain objects and arrays all the way down; RegExp values are left as they are. */
export function deepFreeze<T>(value: T): T {
  if (Array.isArray(value)) {
    for (const item of value) deepFreeze(item);
    return Object.freeze(value);
  }
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const item of Object.values(value)) deepFreeze(item);
    return Object.freeze(value);
  }
  return value;
}
