// values.yaml, values.schema.json and the chart README agree, and bad values fail with the key's name.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { CHART, helmTemplate } from './render.ts';

type Json = Record<string, unknown>;
type Schema = {
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly additionalProperties?: boolean | Schema;
  readonly items?: Schema;
  readonly $ref?: string;
  readonly anyOf?: readonly Schema[];
  readonly description?: string;
};

const root = join(import.meta.dirname, '..', '..', CHART);
const schema = JSON.parse(readFileSync(join(root, 'values.schema.json'), 'utf8')) as Schema & { definitions: Record<string, Schema> };
const values = parse(readFileSync(join(root, 'values.yaml'), 'utf8'), { version: '1.1' }) as Json;
const readme = readFileSync(join(root, 'README.md'), 'utf8');

function deref(s: Schema): Schema {
  if (s.$ref === undefined) return s;
  const name = s.$ref.replace('#/definitions/', '');
  const target = schema.definitions[name];
  assert.ok(target !== undefined, `schema reference ${s.$ref} resolves`);
  return deref(target);
}

/** Paths of every leaf of values.yaml; a map the schema leaves free-form counts as one leaf. */
function leafPaths(value: unknown, s: Schema | undefined, path: string): string[] {
  const resolved = s === undefined ? undefined : deref(s);
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && resolved?.properties !== undefined) {
    return Object.entries(value as Json).flatMap(([k, v]) => leafPaths(v, resolved.properties?.[k], path === '' ? k : `${path}.${k}`));
  }
  return [path];
}

/** The schema node for a dotted path, or undefined when the schema does not know it. */
function schemaAt(path: string): Schema | undefined {
  let node: Schema | undefined = schema;
  for (const key of path.split('.')) {
    node = node === undefined ? undefined : deref(node).properties?.[key];
  }
  return node;
}

/** Every object schema that lists its properties, with its path. */
function objectSchemas(s: Schema, path: string): Array<[string, Schema]> {
  const resolved = deref(s);
  const own: Array<[string, Schema]> = resolved.properties === undefined ? [] : [[path, resolved]];
  const children = Object.entries(resolved.properties ?? {}).flatMap(([k, v]) => objectSchemas(v, path === '' ? k : `${path}.${k}`));
  const items = resolved.items === undefined ? [] : objectSchemas(resolved.items, `${path}[]`);
  return [...own, ...children, ...items];
}

/** Keys of the README's values table (first column, in backticks). */
const documented = [...readme.matchAll(/^\| `([A-Za-z0-9_.]+)` \|/gm)].map((m) => m[1] as string);

describe('values.schema.json', () => {
  it('types every value in values.yaml', () => {
    const missing = leafPaths(values, schema, '').filter((p) => schemaAt(p) === undefined);
    assert.deepEqual(missing, []);
  });

  it('rejects unknown keys at every level it describes, so typos fail at install time', () => {
    const open = objectSchemas(schema, '').filter(([, s]) => s.additionalProperties !== false);
    assert.deepEqual(open.map(([p]) => p || '(top level)'), []);
  });

  it('accepts the chart defaults', () => {
    assert.equal(helmTemplate().status, 0);
  });
});

describe('chart README', () => {
  it('documents every value of values.yaml in its values table', () => {
    const undocumented = leafPaths(values, schema, '').filter((p) => !documented.includes(p));
    assert.deepEqual(undocumented, []);
  });

  it('documents only values the chart has', () => {
    assert.deepEqual(documented.filter((p) => schemaAt(p) === undefined), []);
  });

  it('covers installing, upgrading, uninstalling and certificates', () => {
    for (const heading of ['Install', 'Upgrade', 'Uninstall', 'Certificates', 'Values']) assert.match(readme, new RegExp(`^## ${heading}`, 'm'));
    assert.match(readme, /helm install tagpin charts\/tagpin -n tagpin --create-namespace/);
  });
});

describe('bad values fail before anything reaches the cluster, naming the key', () => {
  const cases: ReadonlyArray<readonly [string, Json, RegExp]> = [
    ['a webhook timeout over 30 s', { webhooks: { timeoutSeconds: 31 } }, /\/webhooks\/timeoutSeconds/],
    ['a webhook timeout of 0', { webhooks: { timeoutSeconds: 0 } }, /\/webhooks\/timeoutSeconds/],
    ['an unknown failurePolicy', { webhooks: { failurePolicy: 'Deny' } }, /\/webhooks\/failurePolicy/],
    ['an unknown per-webhook failurePolicy', { webhooks: { mutating: { failurePolicy: 'fail' } } }, /\/webhooks\/mutating\/failurePolicy/],
    ['an unknown TLS mode', { tls: { mode: 'vault' } }, /\/tls\/mode/],
    ['a misspelt config key', { config: { validate: { denyLatets: true } } }, /\/config\/validate.*denyLatets/],
    ['an unknown config section', { config: { registry: {} } }, /\/config.*registry/],
    ['a config action tagpin does not know', { config: { validate: { action: 'block' } } }, /\/config\/validate\/action/],
    ['a kind tagpin cannot walk', { config: { mutate: { kinds: ['Pod', 'Rollout'] } } }, /config\.mutate\.kinds names Rollout, which is neither a built-in kind nor a kind of config\.workloads/],
    ['a kind name that is not one', { config: { mutate: { kinds: ['pod'] } } }, /\/config\/mutate\/kinds\/0/],
    ['a preset tagpin does not ship', { config: { workloads: { presets: ['flux'] } } }, /\/config\/workloads\/presets\/0/],
    ['a custom kind without its resource', { config: { workloads: { customKinds: [{ apiGroup: 'tekton.dev', kind: 'Task', images: ['/spec/steps/*/image'] }] } } }, /\/config\/workloads\/customKinds\/0.*resource/],
    ['a custom kind in a built-in group', { config: { workloads: { customKinds: [{ apiGroup: 'apps', kind: 'Deployment', resource: 'deployments', podSpecs: ['/spec'] }] } } }, /\/config\/workloads\/customKinds\/0\/apiGroup/],
    ['a kind named twice', { config: { workloads: { presets: ['argo-rollouts'], customKinds: [{ apiGroup: 'argoproj.io', kind: 'Rollout', resource: 'rollouts', podSpecs: ['/spec/template/spec'] }] } } }, /config\.workloads names kind Rollout of group argoproj\.io twice/],
    ['a mirror that is not an http(s) URL', { config: { registries: { mirrors: { 'docker.io': ['harbor.internal'] } } } }, /\/config\/registries\/mirrors\/docker\.io\/0/],
    ['TLS paths, which the chart owns', { config: { server: { tlsCert: '/tmp/cert.pem' } } }, /\/config\/server.*tlsCert/],
    ['a resolve budget over the API server maximum', { config: { resolve: { timeoutMs: 45000 } } }, /\/config\/resolve\/timeoutMs/],
    ['an image digest that is not sha256', { image: { digest: 'latest' } }, /\/image\/digest/],
    ['a boolean opt-in label value (YAML 1.1 `on`)', { webhooks: { optIn: { labelValue: true } } }, /\/webhooks\/optIn\/labelValue/],
    ['zero replicas', { replicaCount: 0 }, /\/replicaCount/],
    ['an unknown top-level value', { replicas: 3 }, /replicas/],
  ];
  for (const [what, bad, message] of cases) {
    it(`rejects ${what}`, () => {
      const result = helmTemplate({ values: bad });
      assert.notEqual(result.status, 0);
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, /goroutine|panic/);
    });
  }

  it('asks for the Secret name and CA bundle in tls.mode=secret', () => {
    const noName = helmTemplate({ values: { tls: { mode: 'secret', secret: { caBundle: '-----BEGIN CERTIFICATE-----\n' } } } });
    assert.match(noName.stderr, /tls\.secretName is required when tls\.mode is secret/);
    const noBundle = helmTemplate({ values: { tls: { mode: 'secret', secretName: 'corp-tls' } } });
    assert.match(noBundle.stderr, /tls\.secret\.caBundle \(PEM\) is required when tls\.mode is secret/);
  });

  it('refuses the same port for webhooks and metrics', () => {
    const result = helmTemplate({ values: { config: { server: { metricsPort: 8443 } } } });
    assert.match(result.stderr, /config\.server\.metricsPort must differ from config\.server\.port \(both 8443\)/);
  });
});
