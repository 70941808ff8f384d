// The Dockerfile, read structurally (no Docker engine runs here): stages, user, entrypoint, labels, context.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { DEFAULT_CONFIG } from '../../src/config/index.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const read = (file: string): string => readFileSync(join(repoRoot, file), 'utf8');

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

/** Instructions with continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const logical = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  return logical.map((line) => {
    const [keyword = '', ...rest] = line.split(/\s+/);
    return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
  });
}

const dockerfile = instructions(read('Dockerfile'));

/** ARGs before the first FROM, with their defaults. */
const globalArgs = new Map<string, string>();
for (const i of dockerfile) {
  if (i.keyword === 'FROM') break;
  if (i.keyword === 'ARG') {
    const [name, value = ''] = i.args.split('=', 2) as [string, string?];
    globalArgs.set(name, value);
  }
}

const expand = (text: string): string => text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => globalArgs.get(a ?? b ?? '') ?? '');

const stages: Stage[] = [];
for (const i of dockerfile) {
  if (i.keyword === 'FROM') {
    const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args);
    assert.ok(match !== null, `FROM ${i.args}`);
    stages.push({ from: expand(match[1] as string), name: match[2], instructions: [] });
  } else if (stages.length > 0) {
    (stages.at(-1)?.instructions as Instruction[]).push(i);
  }
}
const runtime = stages.at(-1) as Stage;
const of = (stage: Stage, keyword: string): Instruction[] => stage.instructions.filter((i) => i.keyword === keyword);
const execForm = (args: string): string[] => {
  const value: unknown = JSON.parse(args);
  assert.ok(Array.isArray(value) && value.every((v) => typeof v === 'string'), `exec form: ${args}`);
  return value as string[];
};

describe('Dockerfile', () => {
  it('builds in stages: the build stage checks and bundles, the runtime ships the bundle alone', () => {
    assert.ok(stages.length >= 2, 'build and runtime stages');
    const runs = (stage: Stage): string => of(stage, 'RUN').map((i) => i.args).join('\n');
    const build = stages.find((s) => /npm ci(?![^\n]*--omit=dev)/.test(runs(s)));
    assert.ok(build !== undefined && build !== runtime, 'a stage installs every dependency (npm ci)');
    assert.match(runs(build), /tsc -p \./, 'the build stage type-checks the sources it ships');
    assert.match(runs(build), /node scripts\/build\.ts/, 'the build stage bundles them (npm run build)');
    const copies = of(runtime, 'COPY').map((i) => i.args);
    assert.deepEqual(copies, [`--from=${String(build.name)} /app/dist ./dist`], 'the runtime gets dist/ and nothing else');
  });

  it('runs on a distroless (or slim) Node 24 base', () => {
    assert.match(runtime.from, /^(gcr\.io\/distroless\/nodejs24-debian\d+|(docker\.io\/library\/)?node:24[\w.-]*-slim)(:[\w.-]+)?(@sha256:[a-f0-9]{64})?$/);
    for (const stage of stages) assert.match(stage.from, /(node:24|nodejs24)/, `${stage.from} brings Node 24`);
  });

  it('names every base image by tag, pinned by digest or with the pinning release step documented', () => {
    const comments = read('Dockerfile')
      .split('\n')
      .filter((line) => line.startsWith('#'))
      .join('\n');
    for (const stage of stages) {
      assert.match(stage.from, /^[a-z0-9.-]+(\/[a-z0-9._-]+)+:[\w.-]+(@sha256:[a-f0-9]{64})?$/, `${stage.from} has an explicit tag`);
      assert.doesNotMatch(stage.from, /:latest\b/);
      if (!stage.from.includes('@sha256:')) {
        const unpinned = stage.from.replace(/^docker\.io\/library\//, '');
        assert.ok(comments.includes('tagpin resolve') && comments.includes(unpinned), `${stage.from}: the Dockerfile says how to pin it by digest`);
      }
    }
  });

  it('runs as a numeric non-root user and writes nothing at run time', () => {
    const users = of(runtime, 'USER');
    assert.equal(users.length, 1);
    const [uid, gid] = (users[0] as Instruction).args.split(':');
    assert.match(String(uid), /^[1-9]\d*$/, 'numeric uid, so runAsNonRoot can verify it');
    assert.match(String(gid), /^[1-9]\d*$/);
    assert.deepEqual(of(runtime, 'RUN'), [], 'the runtime stage runs nothing (and distroless has no shell)');
    assert.deepEqual(of(runtime, 'VOLUME'), []);
    const chart = parse(read('charts/tagpin/values.yaml')) as { securityContext: { runAsUser: number }; podSecurityContext: { runAsUser: number } };
    assert.equal(chart.securityContext.runAsUser, Number(uid), 'the chart runs the same user');
  });

  it('starts `tagpin serve` with an exec-form ENTRYPOINT the chart and its test hook agree with', () => {
    const entrypoint = execForm(of(runtime, 'ENTRYPOINT').at(-1)?.args ?? '');
    const cmd = execForm(of(runtime, 'CMD').at(-1)?.args ?? '');
    assert.deepEqual(entrypoint, ['/nodejs/bin/node', '/app/dist/tagpin.js']);
    const build = readFileSync(join(repoRoot, 'scripts', 'build.ts'), 'utf8');
    assert.match(build, /entryPoints: \{ tagpin: 'src\/main\.ts' \}/, 'dist/tagpin.js is the bundle of src/main.ts');
    assert.deepEqual(cmd, ['serve', '--config', '/etc/tagpin/config.yaml']);
    const values = parse(read('charts/tagpin/values.yaml')) as { tests: { nodeCommand: string[] } };
    assert.deepEqual(values.tests.nodeCommand, [entrypoint[0]], 'the helm test pod finds node where the image has it');
  });

  it('exposes the ports tagpin listens on by default', () => {
    const ports = of(runtime, 'EXPOSE').flatMap((i) => i.args.split(/\s+/)).map(Number);
    assert.deepEqual(ports, [DEFAULT_CONFIG.server.port, DEFAULT_CONFIG.server.metricsPort]);
  });

  it('carries the OCI labels, with the license and version of package.json', () => {
    const labels = new Map(
      [...of(runtime, 'LABEL').map((i) => i.args).join(' ').matchAll(/(org\.opencontainers\.image\.[\w.]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    for (const key of ['title', 'description', 'licenses', 'version', 'revision', 'source']) {
      assert.ok(labels.has(`org.opencontainers.image.${key}`), `label org.opencontainers.image.${key}`);
    }
    const pkg = JSON.parse(read('package.json')) as { version: string; license: string };
    assert.equal(labels.get('org.opencontainers.image.licenses'), pkg.license);
    const versionArg = of(runtime, 'ARG').find((i) => i.args.startsWith('VERSION='));
    assert.equal(versionArg?.args, `VERSION=${pkg.version}`);
    const chart = parse(read('charts/tagpin/Chart.yaml')) as { appVersion: string };
    assert.equal(chart.appVersion, pkg.version, "the chart's default image tag is this version");
  });

  it('fetches nothing at build time but npm packages, and bakes in no secrets', () => {
    assert.deepEqual(dockerfile.filter((i) => i.keyword === 'ADD'), []);
    assert.deepEqual(dockerfile.filter((i) => (i.keyword === 'ENV' || i.keyword === 'ARG') && /(PASSWORD|TOKEN|SECRET|_KEY)\b/i.test(i.args)), []);
    assert.doesNotMatch(dockerfile.map((i) => i.args).join('\n'), /\b(curl|wget)\b/);
  });
});

describe('.dockerignore', () => {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  /** Docker's rule for a top-level entry: the last matching pattern wins (`!` re-includes). */
  const included = (name: string): boolean => {
    let keep = true;
    for (const pattern of patterns) {
      const negated = pattern.startsWith('!');
      const glob = (negated ? pattern.slice(1) : pattern).replace(/\/$/, '');
      const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
      if (re.test(name)) keep = negated;
    }
    return keep;
  };

  it('sends only what the image needs into the build context', () => {
    const entries = readdirSync(repoRoot).filter(included).sort();
    assert.deepEqual(entries, ['package-lock.json', 'package.json', 'src', 'tsconfig.json']);
    assert.equal(included('scripts/build.ts'), true, 'the build script');
    for (const name of ['node_modules', '.git', 'test', 'charts', 'deploy', '.env']) assert.equal(included(name), false, `${name} stays out`);
  });

  it('keeps everything the Dockerfile copies from the context', () => {
    const sources = dockerfile
      .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from='))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const source of sources) {
      assert.ok(included(source.replace(/\/$/, '')), `${source} is in the context`);
      assert.ok(existsSync(join(repoRoot, source)), `${source} exists`);
    }
  });
});
