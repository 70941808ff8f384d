// Config: defaults, YAML parsing, validation with key paths, and registry flag overrides.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  applyRegistryFlags,
  DEFAULT_CONFIG,
  parseMirrorUrl,
  DEFAULT_CONFIG_YAML,
  loadConfig,
  parseConfig,
  SUPPORTED_KINDS,
} from '../../src/config/index.ts';
import { ConfigError } from '../../src/errors/index.ts';

/** Asserts that parsing `text` fails with exactly `message` (a ConfigError, one line). */
function rejects(text: string, message: string | RegExp): void {
  assert.throws(
    () => parseConfig(text, 'x.yaml'),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.ok(!err.message.includes('\n'), `message is one line: ${err.message}`);
      if (typeof message === 'string') assert.equal(err.message, message);
      else assert.match(err.message, message);
      return true;
    },
  );
}

describe('config defaults', () => {
  it('documents every default in DEFAULT_CONFIG_YAML, which parses to DEFAULT_CONFIG', () => {
    assert.deepEqual(parseConfig(DEFAULT_CONFIG_YAML, 'defaults'), DEFAULT_CONFIG);
  });

  it('has the documented values', () => {
    assert.equal(DEFAULT_CONFIG.mutate.enabled, true);
    assert.equal(DEFAULT_CONFIG.mutate.output, 'tag-digest');
    assert.deepEqual(DEFAULT_CONFIG.mutate.kinds, [...SUPPORTED_KINDS]);
    assert.equal(DEFAULT_CONFIG.validate.action, 'deny');
    assert.deepEqual(DEFAULT_CONFIG.exclude.namespaces, ['kube-system']);
    assert.equal(DEFAULT_CONFIG.resolve.timeoutMs, 8000);
    assert.equal(DEFAULT_CONFIG.resolve.onError, 'deny');
    assert.equal(DEFAULT_CONFIG.cache.ttlSeconds, 300);
    assert.equal(DEFAULT_CONFIG.cache.maxEntries, 10000);
    assert.equal(DEFAULT_CONFIG.server.port, 8443);
    assert.equal(DEFAULT_CONFIG.server.metricsPort, 9090);
  });

  it('is frozen so no caller can change the shared defaults', () => {
    assert.ok(Object.isFrozen(DEFAULT_CONFIG));
    assert.ok(Object.isFrozen(DEFAULT_CONFIG.exclude.namespaces));
    assert.throws(() => {
      (DEFAULT_CONFIG.exclude.namespaces as string[]).push('x');
    }, TypeError);
  });
});

describe('parseConfig', () => {
  it('yields the defaults for an empty file or one with only comments', () => {
    assert.deepEqual(parseConfig('', 'x.yaml'), DEFAULT_CONFIG);
    assert.deepEqual(parseConfig('# nothing set\n', 'x.yaml'), DEFAULT_CONFIG);
  });

  it('merges a given key over the defaults and keeps its siblings', () => {
    const config = parseConfig('validate:\n  action: warn\n', 'x.yaml');
    assert.equal(config.validate.action, 'warn');
    assert.equal(config.validate.denyLatest, true);
    assert.deepEqual(config.mutate, DEFAULT_CONFIG.mutate);
  });

  it('treats a section with nothing under it as all defaults', () => {
    assert.deepEqual(parseConfig('mutate:\ncache:\n', 'x.yaml'), DEFAULT_CONFIG);
  });

  it('reads every key', () => {
    const config = parseConfig(
      [
        'mutate: {enabled: false, output: digest, kinds: [Pod, Deployment]}',
        'validate: {action: audit, denyLatest: false, denyUntagged: false, mutableTags: ["v\\\\d+"], allowedTags: ["\\\\d+\\\\.\\\\d+\\\\.\\\\d+"], requireDigest: true}',
        'exclude: {namespaces: [kube-system, tagpin], images: ["docker.io/istio/*"]}',
        'registries: {insecure: ["127.0.0.1:5000", "registry.local"], caFile: /etc/ca.pem, allow: ["*.example.com"], privateHosts: ["*.corp.internal"], dockerConfig: /root/.docker/config.json, mirrors: {docker.io: ["https://mirror.corp"]}, credentialProviders: {config: /etc/cp.yaml, binDir: /opt/cp}}',
        'resolve: {timeoutMs: 2500, onError: allow}',
        'cache: {ttlSeconds: 0, maxEntries: 5}',
        'server: {port: 443, metricsPort: 9091, tlsCert: /tls/tls.crt, tlsKey: /tls/tls.key}',
      ].join('\n'),
      'x.yaml',
    );
    assert.deepEqual(config.mutate, { enabled: false, output: 'digest', kinds: ['Pod', 'Deployment'] });
    assert.equal(config.validate.action, 'audit');
    assert.equal(config.validate.requireDigest, true);
    assert.deepEqual(config.exclude, { namespaces: ['kube-system', 'tagpin'], images: ['docker.io/istio/*'] });
    assert.deepEqual(config.registries, {
      insecure: ['127.0.0.1:5000', 'registry.local'],
      caFile: '/etc/ca.pem',
      allow: ['*.example.com'],
      privateHosts: ['*.corp.internal'],
      dockerConfig: '/root/.docker/config.json',
      mirrors: { 'docker.io': ['https://mirror.corp'] },
      credentialProviders: { config: '/etc/cp.yaml', binDir: '/opt/cp' },
    });
    assert.deepEqual(config.resolve, { timeoutMs: 2500, onError: 'allow' });
    assert.deepEqual(config.cache, { ttlSeconds: 0, maxEntries: 5 });
    assert.deepEqual(config.server, { port: 443, metricsPort: 9091, tlsCert: '/tls/tls.crt', tlsKey: '/tls/tls.key' });
    assert.ok(Object.isFrozen(config.validate.mutableTags));
  });

  it('compiles tag regexes as whole-tag matches', () => {
    const config = parseConfig('validate:\n  mutableTags: ["v1.*", "main|dev"]\n', 'x.yaml');
    const [v1, branches] = config.validate.mutableTags;
    assert.ok(v1 && branches);
    assert.ok(v1.test('v1.2'));
    assert.ok(!v1.test('xv1.2'), 'anchored at the start');
    assert.ok(branches.test('main') && branches.test('dev'));
    assert.ok(!branches.test('maintenance') && !branches.test('xdev'), 'alternation anchored as a whole');
  });

  it('rejects an unknown key with its path and suggests the near one', () => {
    rejects('mutate:\n  enabeld: true\n', 'config x.yaml: unknown key mutate.enabeld (did you mean mutate.enabled?)');
    rejects('validation:\n  action: warn\n', 'config x.yaml: unknown key validation (did you mean validate?)');
    rejects('server:\n  address: 0.0.0.0\n', 'config x.yaml: unknown key server.address');
  });

  it('rejects a value outside its choices', () => {
    assert.throws(() => parseConfig('validate:\n  action: block\n', '/etc/tagpin.yaml'), {
      message: 'config /etc/tagpin.yaml: validate.action must be one of deny, warn, audit (got "block")',
    });
    rejects('mutate: {output: short}', 'config x.yaml: mutate.output must be one of tag-digest, digest (got "short")');
    rejects('resolve: {onError: ignore}', 'config x.yaml: resolve.onError must be one of deny, allow (got "ignore")');
    rejects('mutate: {kinds: [Pod, Service]}', /^config x\.yaml: mutate\.kinds\[1\] must be one of Pod, PodTemplate, .* \(got "Service"\)$/);
  });

  it('rejects wrong types, naming the key and what was found', () => {
    rejects('mutate: {enabled: "yes"}', 'config x.yaml: mutate.enabled must be true or false (got "yes")');
    rejects('mutate: {enabled: yes}', 'config x.yaml: mutate.enabled must be true or false (got "yes")');
    rejects('mutate: {kinds: Pod}', 'config x.yaml: mutate.kinds must be a list (got "Pod")');
    rejects('exclude: {namespaces: [1]}', 'config x.yaml: exclude.namespaces[0] must be a non-empty string (got 1)');
    rejects('mutate: [enabled]', 'config x.yaml: mutate must be a mapping (got a list)');
    rejects('- mutate', 'config x.yaml: the top level must be a mapping (got a list)');
    rejects('just text', 'config x.yaml: the top level must be a mapping (got "just text")');
    rejects('registries: {caFile: 5}', 'config x.yaml: registries.caFile must be a non-empty string (got 5)');
    rejects('validate: {denyLatest: null}', 'config x.yaml: validate.denyLatest must be true or false (got null)');
  });

  it('rejects numbers out of range', () => {
    rejects('cache: {ttlSeconds: -1}', 'config x.yaml: cache.ttlSeconds must be an integer ≥ 0 (got -1)');
    rejects('cache: {ttlSeconds: 1.5}', 'config x.yaml: cache.ttlSeconds must be an integer ≥ 0 (got 1.5)');
    rejects('cache: {maxEntries: "10"}', 'config x.yaml: cache.maxEntries must be an integer ≥ 0 (got "10")');
    rejects('server: {port: 0}', 'config x.yaml: server.port must be an integer 1–65535 (got 0)');
    rejects('server: {metricsPort: 70000}', 'config x.yaml: server.metricsPort must be an integer 1–65535 (got 70000)');
    rejects('resolve: {timeoutMs: 99}', 'config x.yaml: resolve.timeoutMs must be an integer 100–30000 (got 99)');
    rejects('resolve: {timeoutMs: 30001}', 'config x.yaml: resolve.timeoutMs must be an integer 100–30000 (got 30001)');
    assert.equal(parseConfig('resolve: {timeoutMs: 30000}', 'x.yaml').resolve.timeoutMs, 30000);
  });

  it('rejects an invalid regex with its index', () => {
    rejects('validate:\n  mutableTags: ["ok", "v(1"]\n', /^config x\.yaml: validate\.mutableTags\[1\] is not a valid regex: .+/);
    rejects('validate:\n  allowedTags: ["[a-"]\n', /^config x\.yaml: validate\.allowedTags\[0\] is not a valid regex: .+/);
  });

  it('accepts insecure registries only as host[:port]', () => {
    const ok = parseConfig('registries: {insecure: ["localhost:5000", "[::1]:5000", "reg.example.com", "10.0.0.1"]}', 'x.yaml');
    assert.deepEqual(ok.registries.insecure, ['localhost:5000', '[::1]:5000', 'reg.example.com', '10.0.0.1']);
    rejects(
      'registries: {insecure: ["http://reg:5000"]}',
      'config x.yaml: registries.insecure[0] must be host[:port], without scheme or path (got "http://reg:5000")',
    );
    rejects('registries: {insecure: ["reg/path"]}', /registries\.insecure\[0\] must be host\[:port\]/);
    rejects('registries: {insecure: ["reg:99999"]}', 'config x.yaml: registries.insecure[0] port must be 1-65535 (got "reg:99999")');
  });

  it('rejects a registries.allow entry that is not a host glob', () => {
    rejects('registries: {allow: ["https://*.example.com"]}', /^config x\.yaml: registries\.allow\[0\] must be a host glob/);
    rejects('registries: {privateHosts: ["http://registry.corp"]}', /^config x\.yaml: registries\.privateHosts\[0\] must be a host glob/);
  });

  it('takes registries.credentialProviders as null or {config, binDir}, both set', () => {
    assert.equal(parseConfig('registries: {credentialProviders: null}', 'x.yaml').registries.credentialProviders, null);
    rejects('registries: {credentialProviders: /etc/cp.yaml}', 'config x.yaml: registries.credentialProviders must be a mapping (got "/etc/cp.yaml")');
    rejects(
      'registries: {credentialProviders: {config: /etc/cp.yaml}}',
      'config x.yaml: registries.credentialProviders.binDir is missing (set both config and binDir)',
    );
    rejects(
      'registries: {credentialProviders: {config: /etc/cp.yaml, binDir: /opt, bindir: /opt}}',
      'config x.yaml: unknown key registries.credentialProviders.bindir (did you mean registries.credentialProviders.binDir?)',
    );
    rejects('registries: {credentialProviders: {config: "", binDir: /opt}}', 'config x.yaml: registries.credentialProviders.config must be a non-empty string (got "")');
  });

  it('requires TLS certificate and key together, and distinct ports', () => {
    rejects('server: {tlsCert: /tls/tls.crt}', 'config x.yaml: server.tlsCert and server.tlsKey must be set together (server.tlsKey is missing)');
    rejects('server: {port: 9090}', 'config x.yaml: server.metricsPort must differ from server.port (both 9090)');
  });

  it('reports YAML syntax errors with file and line', () => {
    rejects('mutate:\n  enabled: true\n  kinds: [Pod,\nvalidate: {}\n', /^config x\.yaml:\d+:\d+: invalid YAML: .+/);
    rejects('mutate:\n  enabled: true\n  enabled: false\n', /^config x\.yaml:3:3: invalid YAML: Map keys must be unique$/);
    rejects('mutate: {}\n---\nvalidate: {}\n', /^config x\.yaml:2:1: invalid YAML: Source contains multiple documents/);
  });

  it('records the key path on the error for callers', () => {
    try {
      parseConfig('cache: {ttlSeconds: -5}', 'x.yaml');
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.where, 'cache.ttlSeconds');
    }
  });
});

describe('loadConfig', () => {
  let dir = '';
  const saved = process.env.TAGPIN_CONFIG;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tagpin-config-'));
  });
  after(async () => {
    if (saved === undefined) delete process.env.TAGPIN_CONFIG;
    else process.env.TAGPIN_CONFIG = saved;
    await rm(dir, { recursive: true, force: true });
  });

  it('reads and validates the named file', async () => {
    const file = join(dir, 'tagpin.yaml');
    await writeFile(file, 'validate:\n  action: warn\n');
    const config = await loadConfig(file);
    assert.equal(config.validate.action, 'warn');
  });

  it('names the file in validation errors', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'validate:\n  action: block\n');
    await assert.rejects(loadConfig(file), {
      name: 'ConfigError',
      message: `config ${file}: validate.action must be one of deny, warn, audit (got "block")`,
    });
  });

  it('reads TAGPIN_CONFIG when no path is given, and defaults without either', async () => {
    const file = join(dir, 'env.yaml');
    await writeFile(file, 'cache: {ttlSeconds: 60}\n');
    process.env.TAGPIN_CONFIG = file;
    assert.equal((await loadConfig(undefined)).cache.ttlSeconds, 60);
    delete process.env.TAGPIN_CONFIG;
    assert.deepEqual(await loadConfig(undefined), DEFAULT_CONFIG);
  });

  it('fails with one line when the file is missing', async () => {
    const file = join(dir, 'missing.yaml');
    await assert.rejects(loadConfig(file), { name: 'ConfigError', message: `config ${file}: cannot read file: file not found` });
  });
});

describe('registries.mirrors', () => {
  it('normalizes registries (Docker Hub names fold into docker.io) and URLs, dropping repeats', () => {
    const config = parseConfig(
      [
        'registries:',
        '  mirrors:',
        '    Index.Docker.IO: ["HTTPS://Mirror.Corp:443/", "http://10.0.0.5:5000//cache/", "https://mirror.corp"]',
        '    127.0.0.1:5000: []',
        '    "[::1]:5000": ["http://[::1]:5001"]',
      ].join('\n'),
      'x.yaml',
    );
    assert.deepEqual(config.registries.mirrors, {
      'docker.io': ['https://mirror.corp', 'http://10.0.0.5:5000/cache'],
      '127.0.0.1:5000': [],
      '[::1]:5000': ['http://[::1]:5001'],
    });
    assert.ok(Object.isFrozen(config.registries.mirrors['docker.io']));
  });

  it('reads the API root from the URL path as containerd does, taking /v2/PROJECT roots as they stand', () => {
    const roots = ['https://m', 'https://m/', 'https://m/cache', 'https://m/cache/v2', 'https://m/v2', 'https://m/v2/dockerhub'].map((url) => {
      const parsed = parseMirrorUrl(url);
      return 'problem' in parsed ? parsed.problem : parsed.apiRoot;
    });
    assert.deepEqual(roots, ['/v2', '/v2', '/cache/v2', '/cache/v2', '/v2', '/v2/dockerhub']);
  });

  it('rejects a bad key or URL with its path and the rule', () => {
    const at = (yaml: string): string => `registries:\n  mirrors:\n    ${yaml}\n`;
    rejects('registries: {mirrors: [a]}', 'config x.yaml: registries.mirrors must be a mapping (got a list)');
    rejects(
      at('"https://docker.io": ["https://m"]'),
      'config x.yaml: registries.mirrors key "https://docker.io" must be host[:port], without scheme or path; keys name the registry mirrored',
    );
    rejects(at('docker.io: https://m'), 'config x.yaml: registries.mirrors[docker.io] must be a list (got "https://m")');
    rejects(
      at('docker.io: [mirror.corp]'),
      'config x.yaml: registries.mirrors[docker.io][0] must be an http:// or https:// URL like https://mirror.corp:5000 (got "mirror.corp")',
    );
    rejects(
      at('docker.io: ["https://m", "ftp://m"]'),
      'config x.yaml: registries.mirrors[docker.io][1] must be an http:// or https:// URL like https://mirror.corp:5000 (got "ftp://m")',
    );
    rejects(
      at('docker.io: ["https://user:pw@m"]'),
      'config x.yaml: registries.mirrors[docker.io][0] must not carry credentials (put them in the docker config under the mirror\'s host) (got "https://user:pw@m")',
    );
    rejects(at('docker.io: ["https://m/?x=1"]'), 'config x.yaml: registries.mirrors[docker.io][0] must not have a query or fragment (got "https://m/?x=1")');
    rejects(
      at('docker.io: ["https://m_1"]'),
      'config x.yaml: registries.mirrors[docker.io][0] has an invalid host "m_1" (DNS labels or a bracketed IPv6 literal, port 1-65535) (got "https://m_1")',
    );
    rejects(
      'registries:\n  mirrors:\n    docker.io: []\n    registry-1.docker.io: []\n',
      'config x.yaml: registries.mirrors[registry-1.docker.io] and registries.mirrors[docker.io] both name docker.io; merge them into one list',
    );
  });
});

describe('applyRegistryFlags', () => {
  const base = parseConfig('registries: {insecure: ["a.local:5000"], caFile: /etc/ca.pem}', 'x.yaml');

  it('appends --insecure-registry hosts and replaces --ca-file and --docker-config', () => {
    const config = applyRegistryFlags(base, {
      insecure: ['127.0.0.1:5000', 'a.local:5000'],
      caFile: '/tmp/other-ca.pem',
      dockerConfig: '/tmp/config.json',
    });
    assert.deepEqual(config.registries.insecure, ['a.local:5000', '127.0.0.1:5000']);
    assert.equal(config.registries.caFile, '/tmp/other-ca.pem');
    assert.equal(config.registries.dockerConfig, '/tmp/config.json');
    assert.deepEqual(base.registries.insecure, ['a.local:5000'], 'the input config is unchanged');
  });

  it('keeps configured values when no flag is given', () => {
    assert.deepEqual(applyRegistryFlags(base, {}), base);
  });

  it('appends --mirror URLs after the configured ones for their registry, repeats dropped', () => {
    const configured = parseConfig('registries: {mirrors: {docker.io: ["https://a.corp"]}}', 'x.yaml');
    const config = applyRegistryFlags(configured, {
      mirrors: ['index.docker.io=https://b.corp/', 'docker.io=https://a.corp', '127.0.0.1:5000=http://127.0.0.1:5001'],
    });
    assert.deepEqual(config.registries.mirrors, { 'docker.io': ['https://a.corp', 'https://b.corp'], '127.0.0.1:5000': ['http://127.0.0.1:5001'] });
    assert.deepEqual(configured.registries.mirrors, { 'docker.io': ['https://a.corp'] }, 'the input config is unchanged');
  });

  it('rejects a --mirror that is not HOST=URL, naming the flag', () => {
    for (const [value, message] of [
      ['https://mirror.corp', '--mirror "https://mirror.corp": must be HOST=URL, e.g. docker.io=https://mirror.corp'],
      ['docker.io/x=https://m', '--mirror "docker.io/x=https://m": HOST must be host[:port], without scheme or path'],
      ['docker.io=mirror.corp', '--mirror "docker.io=mirror.corp": URL must be an http:// or https:// URL like https://mirror.corp:5000'],
    ] as const) {
      assert.throws(() => applyRegistryFlags(base, { mirrors: [value] }), { name: 'ConfigError', message });
    }
  });

  it('rejects a flag value that is not host[:port]', () => {
    assert.throws(() => applyRegistryFlags(base, { insecure: ['http://x'] }), {
      name: 'ConfigError',
      message: '--insecure-registry "http://x": must be host[:port], without scheme or path',
    });
  });
});
