// The shape of tagpin's configuration file (docs/contract.md, "Configuration").
import type { OutputFormat } from '../reference/index.ts';

import type { CustomKind, PresetName } from '../workload/index.ts';

export type { CustomKind, PresetName, SupportedKind } from '../workload/index.ts';

export const ValidateAction = { deny: 'deny', warn: 'warn', audit: 'audit' } as const;
export type ValidateAction = (typeof ValidateAction)[keyof typeof ValidateAction];

export const OnError = { deny: 'deny', allow: 'allow' } as const;
export type OnError = (typeof OnError)[keyof typeof OnError];

export interface MutateConfig {
  /** Whether /mutate patches anything. @default true */
  readonly enabled: boolean;
  /** `tag-digest` keeps the tag (`nginx:1.27@sha256:…`); `digest` drops it (`nginx@sha256:…`). @default 'tag-digest' */
  readonly output: OutputFormat;
  /**
   * Kinds that /mutate and `pin` rewrite, by name: built-in kinds and those of `workloads`.
   * @default every built-in kind, then every kind `workloads` adds
   */
  readonly kinds: readonly string[];
}

export interface WorkloadsConfig {
  /** Tested entries for well-known custom resources (`argo-rollouts`, `knative-serving`). @default [] */
  readonly presets: readonly PresetName[];
  /** Custom resource kinds and where their pod specs and images are. @default [] */
  readonly customKinds: readonly CustomKind[];
}

export interface ValidateConfig {
  /** What /validate and `check` do with violations. @default 'deny' */
  readonly action: ValidateAction;
  /** Tag `latest` without a digest is a violation. @default true */
  readonly denyLatest: boolean;
  /** Neither tag nor digest is a violation. @default true */
  readonly denyUntagged: boolean;
  /** Regexes (compiled, anchored as written); a matching tag without a digest is a violation. @default [] */
  readonly mutableTags: readonly RegExp[];
  /** Regexes; when non-empty, a tag matching none of them needs a digest. @default [] */
  readonly allowedTags: readonly RegExp[];
  /** Every image needs a digest. @default false */
  readonly requireDigest: boolean;
}

export interface ExcludeConfig {
  /** Namespaces whose objects are neither mutated nor validated. @default ['kube-system'] */
  readonly namespaces: readonly string[];
  /** Globs matched against the image as written and its normalized form. @default [] */
  readonly images: readonly string[];
}

export interface RegistriesConfig {
  /** host[:port] reached over plain HTTP. @default [] */
  readonly insecure: readonly string[];
  /** Extra PEM bundle trusted for registry and token-server TLS. @default null */
  readonly caFile: string | null;
  /** Host globs; when non-empty, no other registry is contacted. @default [] */
  readonly allow: readonly string[];
  /**
   * Host globs that may resolve to loopback and private addresses (an in-house registry on 10.x),
   * without limiting tagpin to them as `allow` does. Link-local and metadata addresses stay refused. @default []
   */
  readonly privateHosts: readonly string[];
  /** docker config.json with credentials (`auths`; `credHelpers`/`credsStore` run docker credential helpers). @default null */
  readonly dockerConfig: string | null;
  /**
   * Mirrors and pull-through caches by the registry they stand in for (normalized: `docker.io`,
   * `127.0.0.1:5000`): lookups try each URL in order, then the registry itself. URLs are normalized
   * (`parseMirrorUrl`). @default {}
   */
  readonly mirrors: Readonly<Record<string, readonly string[]>>;
  /** kubelet credential provider plugins: their CredentialProviderConfig and the directory holding them. @default null */
  readonly credentialProviders: CredentialProvidersConfig | null;
}

/** Where kubelet credential provider plugins are configured, as kubelet's two flags say it. */
export interface CredentialProvidersConfig {
  /** A CredentialProviderConfig file (kubelet.config.k8s.io/v1, YAML or JSON), like `--image-credential-provider-config`. */
  readonly config: string;
  /** The directory holding each provider's plugin under its name, like `--image-credential-provider-bin-dir`. */
  readonly binDir: string;
}

export interface ResolveConfig {
  /** Budget for all lookups of one admission, or of one CLI image. @default 8000 */
  readonly timeoutMs: number;
  /** `deny` rejects on lookup failure; `allow` admits unchanged, loudly. @default 'deny' */
  readonly onError: OnError;
}

export interface CacheConfig {
  /** How long a resolved digest is reused. @default 300 */
  readonly ttlSeconds: number;
  /** Upper bound on cached digests. @default 10000 */
  readonly maxEntries: number;
}

export interface ServerConfig {
  /** HTTPS port of /mutate, /validate, /healthz, /readyz. @default 8443 */
  readonly port: number;
  /** Plain HTTP port of /metrics. @default 9090 */
  readonly metricsPort: number;
  /** PEM certificate file, reloaded when it changes; null generates a self-signed one. @default null */
  readonly tlsCert: string | null;
  /** PEM key file, reloaded when it changes. @default null */
  readonly tlsKey: string | null;
}

/** Background audits in `tagpin serve` (docs/contract.md, "Background audits"). */
export interface AuditConfig {
  /** Whether one replica scans the cluster every `intervalSeconds` and writes PolicyReports. @default false */
  readonly enabled: boolean;
  /** Time from the end of one scan to the start of the next. @default 3600 */
  readonly intervalSeconds: number;
  /** Registry lookups a scan starts per second at most (the cache answers some without a request). @default 10 */
  readonly lookupsPerSecond: number;
  /** Namespace of the Lease that elects the scanning replica; null: $POD_NAMESPACE. @default null */
  readonly leaseNamespace: string | null;
  /** Name of that Lease. @default 'tagpin-audit' */
  readonly leaseName: string;
}

/** The whole validated configuration; every field has its default filled in. */
export interface Config {
  readonly mutate: MutateConfig;
  readonly workloads: WorkloadsConfig;
  readonly validate: ValidateConfig;
  readonly exclude: ExcludeConfig;
  readonly registries: RegistriesConfig;
  readonly resolve: ResolveConfig;
  readonly cache: CacheConfig;
  readonly server: ServerConfig;
  readonly audit: AuditConfig;
}
