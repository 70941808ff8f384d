// Checks rendered objects against the Kubernetes schemas (kubernetes-models) and the CRDs we use.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import { ValidatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { KubeObject } from './render.ts';

interface BuiltIn {
  /** Module the model comes from; the strict-field check imports its `I<Kind>` type. */
  readonly module: string;
  readonly namespaced: boolean;
  validate(object: KubeObject): void;
}

function builtIn(module: string, namespaced: boolean, Model: new (data: never) => { validate(): void }): BuiltIn {
  return { module, namespaced, validate: (object) => new Model(object as never).validate() };
}

/** apiVersion/kind → model, for every built-in kind the chart (and deploy/) renders. */
const BUILT_IN: ReadonlyMap<string, BuiltIn> = new Map([
  ['v1/ConfigMap', builtIn('kubernetes-models/v1/ConfigMap', true, ConfigMap)],
  ['v1/Namespace', builtIn('kubernetes-models/v1/Namespace', false, Namespace)],
  ['v1/Pod', builtIn('kubernetes-models/v1/Pod', true, Pod)],
  ['v1/Secret', builtIn('kubernetes-models/v1/Secret', true, Secret)],
  ['v1/Service', builtIn('kubernetes-models/v1/Service', true, Service)],
  ['v1/ServiceAccount', builtIn('kubernetes-models/v1/ServiceAccount', true, ServiceAccount)],
  ['apps/v1/Deployment', builtIn('kubernetes-models/apps/v1/Deployment', true, Deployment)],
  ['policy/v1/PodDisruptionBudget', builtIn('kubernetes-models/policy/v1/PodDisruptionBudget', true, PodDisruptionBudget)],
  ['networking.k8s.io/v1/NetworkPolicy', builtIn('kubernetes-models/networking.k8s.io/v1/NetworkPolicy', true, NetworkPolicy)],
  ['rbac.authorization.k8s.io/v1/ClusterRole', builtIn('kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole', false, ClusterRole)],
  [
    'rbac.authorization.k8s.io/v1/ClusterRoleBinding',
    builtIn('kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding', false, ClusterRoleBinding),
  ],
  ['rbac.authorization.k8s.io/v1/Role', builtIn('kubernetes-models/rbac.authorization.k8s.io/v1/Role', true, Role)],
  ['rbac.authorization.k8s.io/v1/RoleBinding', builtIn('kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding', true, RoleBinding)],
  [
    'apiextensions.k8s.io/v1/CustomResourceDefinition',
    builtIn('kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition', false, CustomResourceDefinition),
  ],
  [
    'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration',
    builtIn('kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration', false, MutatingWebhookConfiguration),
  ],
  [
    'admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration',
    builtIn('kubernetes-models/admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration', false, ValidatingWebhookConfiguration),
  ],
]);

/** Structural checks for the custom resources, whose CRD schemas no installed package carries. */
const CUSTOM: ReadonlyMap<string, (object: KubeObject) => string[]> = new Map([
  ['cert-manager.io/v1/Issuer', checkIssuer],
  ['cert-manager.io/v1/Certificate', checkCertificate],
  ['monitoring.coreos.com/v1/ServiceMonitor', checkServiceMonitor],
]);

const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const qualifiedName = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const goDuration = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;

/**
 * Every schema problem of `object`, one line each, naming kind, name and path; empty when valid.
 * Built-in kinds go through kubernetes-models' OpenAPI validators; names, labels and annotation
 * keys are checked against the API server's own syntax rules, which those validators skip.
 */
export function schemaErrors(object: KubeObject): string[] {
  const key = `${object.apiVersion}/${object.kind}`;
  const where = `${object.kind}/${object.metadata.name}`;
  const errors: string[] = [];
  const model = BUILT_IN.get(key);
  const custom = CUSTOM.get(key);
  if (model !== undefined) {
    try {
      model.validate(object);
    } catch (err) {
      errors.push(`${where}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (model.namespaced && object.metadata.namespace === undefined) errors.push(`${where}: namespaced kind without metadata.namespace`);
    if (!model.namespaced && object.metadata.namespace !== undefined) errors.push(`${where}: cluster-scoped kind with metadata.namespace`);
  } else if (custom !== undefined) {
    errors.push(...custom(object).map((e) => `${where}: ${e}`));
    if (object.metadata.namespace === undefined) errors.push(`${where}: namespaced kind without metadata.namespace`);
  } else {
    errors.push(`${where}: no schema known for ${key}`);
  }
  errors.push(...metadataErrors(object).map((e) => `${where}: ${e}`));
  return errors;
}

function metadataErrors(object: KubeObject): string[] {
  const errors: string[] = [];
  const { name, labels = {}, annotations = {} } = object.metadata;
  if (typeof name !== 'string' || name.length > 253 || !dns1123Subdomain.test(name)) errors.push(`metadata.name ${String(name)} is not a DNS subdomain`);
  // Services (and so the certificate's DNS names) need a DNS-1035 label.
  if (object.kind === 'Service' && (name.length > 63 || !dns1035Label.test(name))) errors.push(`Service name ${name} is not a DNS-1035 label`);
  for (const [key, value] of Object.entries(labels)) {
    if (!isQualifiedKey(key)) errors.push(`label key ${key} is invalid`);
    if (typeof value !== 'string' || value.length > 63 || !labelValue.test(value)) errors.push(`label ${key} value ${String(value)} is invalid`);
  }
  for (const [key, value] of Object.entries(annotations)) {
    if (!isQualifiedKey(key)) errors.push(`annotation key ${key} is invalid`);
    if (typeof value !== 'string') errors.push(`annotation ${key} is not a string`);
  }
  return errors;
}

function isQualifiedKey(key: string): boolean {
  const slash = key.indexOf('/');
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !dns1123Subdomain.test(prefix))) return false;
  return name.length <= 63 && qualifiedName.test(name);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function unknownKeys(value: Record<string, unknown>, known: readonly string[], path: string): string[] {
  return Object.keys(value)
    .filter((k) => !known.includes(k))
    .map((k) => `${path}.${k} is not a field of this kind`);
}

function spec(object: KubeObject): Record<string, unknown> | undefined {
  return isRecord(object.spec) ? object.spec : undefined;
}

function checkIssuer(object: KubeObject): string[] {
  const s = spec(object);
  if (s === undefined) return ['spec must be an object'];
  const types = ['selfSigned', 'ca', 'acme', 'vault', 'venafi'];
  const errors = unknownKeys(s, types, 'spec');
  const present = types.filter((t) => s[t] !== undefined);
  if (present.length !== 1) errors.push(`spec needs exactly one issuer type, has ${present.join(', ') || 'none'}`);
  if (s.ca !== undefined && (!isRecord(s.ca) || typeof s.ca.secretName !== 'string' || s.ca.secretName === '')) {
    errors.push('spec.ca.secretName must be a non-empty string');
  }
  if (s.selfSigned !== undefined && !isRecord(s.selfSigned)) errors.push('spec.selfSigned must be an object');
  return errors;
}

function checkCertificate(object: KubeObject): string[] {
  const s = spec(object);
  if (s === undefined) return ['spec must be an object'];
  const known = [
    'secretName', 'commonName', 'dnsNames', 'ipAddresses', 'uris', 'emailAddresses', 'duration', 'renewBefore', 'isCA',
    'usages', 'privateKey', 'issuerRef', 'secretTemplate', 'subject', 'keystores', 'revisionHistoryLimit',
  ];
  const errors = unknownKeys(s, known, 'spec');
  if (typeof s.secretName !== 'string' || !dns1123Subdomain.test(s.secretName)) errors.push('spec.secretName must be a DNS subdomain');
  if (s.commonName !== undefined && (typeof s.commonName !== 'string' || s.commonName.length > 64)) errors.push('spec.commonName must be ≤ 64 characters');
  if (s.dnsNames !== undefined && (!Array.isArray(s.dnsNames) || !s.dnsNames.every((n) => typeof n === 'string' && n !== ''))) {
    errors.push('spec.dnsNames must be a list of names');
  }
  if (s.isCA !== undefined && typeof s.isCA !== 'boolean') errors.push('spec.isCA must be a boolean');
  for (const key of ['duration', 'renewBefore'] as const) {
    if (s[key] !== undefined && (typeof s[key] !== 'string' || !goDuration.test(s[key]))) errors.push(`spec.${key} must be a Go duration`);
  }
  if (typeof s.duration === 'string' && typeof s.renewBefore === 'string' && hours(s.renewBefore) >= hours(s.duration)) {
    errors.push('spec.renewBefore must be shorter than spec.duration');
  }
  const usages = ['signing', 'digital signature', 'content commitment', 'key encipherment', 'key agreement', 'data encipherment',
    'cert sign', 'crl sign', 'encipher only', 'decipher only', 'any', 'server auth', 'client auth', 'code signing',
    'email protection', 's/mime', 'ipsec end system', 'ipsec tunnel', 'ipsec user', 'timestamping', 'ocsp signing',
    'microsoft sgc', 'netscape sgc'];
  if (s.usages !== undefined && (!Array.isArray(s.usages) || !s.usages.every((u) => typeof u === 'string' && usages.includes(u)))) {
    errors.push('spec.usages holds an unknown key usage');
  }
  if (s.privateKey !== undefined) {
    if (!isRecord(s.privateKey)) {
      errors.push('spec.privateKey must be an object');
    } else {
      const pk = s.privateKey;
      errors.push(...unknownKeys(pk, ['algorithm', 'size', 'encoding', 'rotationPolicy'], 'spec.privateKey'));
      if (pk.algorithm !== undefined && !['RSA', 'ECDSA', 'Ed25519'].includes(String(pk.algorithm))) errors.push('spec.privateKey.algorithm is unknown');
      if (pk.algorithm === 'ECDSA' && pk.size !== undefined && ![256, 384, 521].includes(Number(pk.size))) errors.push('ECDSA size must be 256, 384 or 521');
      if (pk.rotationPolicy !== undefined && !['Never', 'Always'].includes(String(pk.rotationPolicy))) errors.push('spec.privateKey.rotationPolicy is unknown');
    }
  }
  const ref = s.issuerRef;
  if (!isRecord(ref) || typeof ref.name !== 'string' || ref.name === '') {
    errors.push('spec.issuerRef.name must be a non-empty string');
  } else {
    errors.push(...unknownKeys(ref, ['name', 'kind', 'group'], 'spec.issuerRef'));
  }
  return errors;
}

function hours(duration: string): number {
  const unit: Record<string, number> = { h: 1, m: 1 / 60, s: 1 / 3600, ms: 1 / 3_600_000, us: 1 / 3.6e9, µs: 1 / 3.6e9, ns: 1 / 3.6e12 };
  let total = 0;
  for (const [, amount, u] of duration.matchAll(/([0-9.]+)(ns|us|µs|ms|s|m|h)/g)) total += Number(amount) * (unit[u as string] ?? 0);
  return total;
}

function checkServiceMonitor(object: KubeObject): string[] {
  const s = spec(object);
  if (s === undefined) return ['spec must be an object'];
  const errors = unknownKeys(
    s,
    ['selector', 'endpoints', 'namespaceSelector', 'jobLabel', 'targetLabels', 'podTargetLabels', 'sampleLimit', 'attachMetadata'],
    'spec',
  );
  if (!isRecord(s.selector)) errors.push('spec.selector must be a label selector');
  if (s.namespaceSelector !== undefined) {
    const ns = s.namespaceSelector;
    if (!isRecord(ns) || !(ns.any === true || (Array.isArray(ns.matchNames) && ns.matchNames.every((n) => typeof n === 'string')))) {
      errors.push('spec.namespaceSelector needs any: true or matchNames');
    }
  }
  if (!Array.isArray(s.endpoints) || s.endpoints.length === 0) {
    errors.push('spec.endpoints must be a non-empty list');
    return errors;
  }
  s.endpoints.forEach((endpoint: unknown, i) => {
    const at = `spec.endpoints[${String(i)}]`;
    if (!isRecord(endpoint)) {
      errors.push(`${at} must be an object`);
      return;
    }
    errors.push(...unknownKeys(endpoint, ['port', 'targetPort', 'path', 'scheme', 'interval', 'scrapeTimeout', 'honorLabels',
      'relabelings', 'metricRelabelings', 'tlsConfig', 'params'], at));
    if (typeof endpoint.port !== 'string' || endpoint.port === '') errors.push(`${at}.port must name a Service port`);
    if (endpoint.scheme !== undefined && !['http', 'https'].includes(String(endpoint.scheme))) errors.push(`${at}.scheme must be http or https`);
    for (const key of ['interval', 'scrapeTimeout'] as const) {
      if (endpoint[key] !== undefined && (typeof endpoint[key] !== 'string' || !goDuration.test(endpoint[key]))) errors.push(`${at}.${key} must be a duration`);
    }
    if (typeof endpoint.interval === 'string' && typeof endpoint.scrapeTimeout === 'string' && hours(endpoint.scrapeTimeout) > hours(endpoint.interval)) {
      errors.push(`${at}.scrapeTimeout must not exceed interval`);
    }
  });
  return errors;
}

/**
 * Fields the Kubernetes API does not define (a typo such as `runAsNonroot` that the API server
 * would drop, leaving the pod less locked down than it reads). kubernetes-models' validators
 * accept unknown fields, so this type-checks every built-in object as an object literal of its
 * `I<Kind>` type: TypeScript's excess-property check then names each unknown field and its path.
 */
export function unknownFieldErrors(objects: readonly KubeObject[]): string[] {
  const lines: string[] = [];
  const index: string[] = [];
  objects.forEach((object) => {
    const model = BUILT_IN.get(`${object.apiVersion}/${object.kind}`);
    if (model === undefined) return;
    const n = index.length;
    index.push(`${object.kind}/${object.metadata.name}`);
    lines.push(`import type { I${object.kind} as T${String(n)} } from '${model.module}';`);
    lines.push(`export const o${String(n)}: T${String(n)} = ${JSON.stringify(object, null, 1)};`);
  });
  // Inside the repository, so the file resolves kubernetes-models from node_modules.
  const dir = resolve(import.meta.dirname, '..', '..', 'node_modules', '.cache', 'tagpin-tools', `fields-${String(process.pid)}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'objects.ts');
  try {
    writeFileSync(file, `${lines.join('\n')}\n`);
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2022.d.ts'],
      types: [],
    });
    return ts.getPreEmitDiagnostics(program).map((d) => {
      const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
      if (d.file === undefined || d.start === undefined) return message;
      const text = d.file.text.slice(0, d.start);
      const objectNo = (text.match(/^export const o/gm) ?? []).length - 1;
      return `${index[objectNo] ?? 'object'}: ${message}`;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
