// tagpin against the resolution engine of k8s-digester, its closest peer: `tagpin pin` over one file of
// 40 Deployments (200 image references, 50 distinct) against go-containerregistry's crane.Digest, the call
// k8s-digester makes for every image, run as k8s-digester runs it (one reference after another, nothing
// cached), in one process (bench/peers/serial-digest.go) and as one `crane digest` process per reference.
// Runs alternate, on loopback and with the registry behind a proxy that delays every request.
// k8s-digester itself is tried first; the Go module proxy refuses it today, and the result records why.
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createPki } from '../test/support/pki.ts';
import { startRegistry } from '../test/support/registry.ts';
import type { LoggedRequest, TestRegistry } from '../test/support/registry.ts';
import { Budget, describeMachine, envNumber, median, printTable, repoRoot, resultsDir, round, runBenchmark, writeResult } from './lib/bench.ts';
import { checkPinned, deployment, pushImages, timed } from './lib/cli-runs.ts';
import type { TimedRun } from './lib/cli-runs.ts';
import { startDelayProxy } from './lib/delay-proxy.ts';

const DISTINCT = 50;
const DOCUMENTS = 40;
const CONTAINERS_PER_DOCUMENT = 5;
const RUNS = envNumber('BENCH_PEER_RUNS', 5);
const DELAY_MS = envNumber('BENCH_PEER_DELAY_MS', 25);
/** The peer, as its users install it. */
const DIGESTER = 'github.com/google/k8s-digester@v0.1.9';
/** The go-containerregistry release k8s-digester's go.mod requires (v0.1.x); BENCH_PEER_GGCR_VERSION tries another. */
const GGCR_VERSION = process.env.BENCH_PEER_GGCR_VERSION ?? 'v0.20.2';
const TAGPIN = join(repoRoot, 'bin', 'tagpin.js');
/** Git-ignored: everything built from Go modules lives here, none of it in the repository. */
const CACHE = join(repoRoot, '.cache', 'peers');
const GO_TIMEOUT_MS = 5 * 60_000;

/** One `crane` process per reference, as a shell loop; with `version` instead of `digest`, the same loop's process floor. */
const CRANE_LOOP = `set -eu -o pipefail
while IFS= read -r ref; do
  if [ "$3" = digest ]; then
    printf '%s ' "$ref"
    "$1" digest "$ref"
  else
    "$1" version > /dev/null
    printf '%s\\n' "$ref"
  fi
done < "$2"
`;

/** What one tool did in one run, counted at the registry. */
interface Run {
  readonly ms: number;
  readonly headManifests: number;
  readonly getManifests: number;
  /** GET /v2/: go-containerregistry asks the registry how it authenticates before every lookup. */
  readonly pings: number;
  readonly allRequests: number;
}

/** One tool's recorded runs in one scenario. */
interface ToolRuns {
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly runs: readonly Run[];
}

type Tool = 'tagpin' | 'serialDigest' | 'craneLoop' | 'craneVersionLoop';

/** The Go programs standing in for k8s-digester, and what became of k8s-digester itself. */
interface Peers {
  readonly crane: string;
  readonly serialDigest: string;
  readonly digester: {
    readonly command: string;
    readonly exitCode: number | null;
    readonly output: string;
    readonly built: boolean;
    readonly versions: { readonly command: string; readonly exitCode: number | null; readonly output: string };
  };
}

await runBenchmark('peers', async () => {
  const startedAt = new Date();
  const machine = describeMachine();
  const budget = new Budget('peers', 12 * 60_000);
  const work = await mkdtemp(join(tmpdir(), 'tagpin-bench-peers-'));
  const pki = await createPki();
  const cleanups: Array<() => Promise<void>> = [];
  try {
    const peers = await buildPeers();
    const registry = await startRegistry('tls', { pki });
    cleanups.push(() => registry.stop());
    const digests = await pushImages(registry, 'peers', DISTINCT, budget);
    const configFile = join(work, 'tagpin.yaml');
    // Loopback addresses are refused unless listed.
    await writeFile(configFile, stringify({ registries: { caFile: pki.caFile, allow: ['127.0.0.1'] } }));
    const loopFile = join(work, 'crane-loop.sh');
    await writeFile(loopFile, CRANE_LOOP);
    // Go trusts the CA through SSL_CERT_FILE; an empty DOCKER_CONFIG keeps go-containerregistry's keychain anonymous.
    const dockerConfig = join(work, 'docker');
    await mkdir(dockerConfig);
    const goEnv = { SSL_CERT_FILE: pki.caFile, DOCKER_CONFIG: dockerConfig };
    const setup: Setup = { work, configFile, loopFile, goEnv, peers, digests, registry, budget };

    const loopback = await compare('loopback', registry.host, setup, true);
    const proxyCert = await pki.issue('bench-proxy', []);
    const proxy = await startDelayProxy(registry.baseUrl, DELAY_MS, { cert: proxyCert.certPem, key: proxyCert.keyPem, ca: pki.caPem });
    cleanups.push(() => proxy.close());
    const distant = await compare(`${String(DELAY_MS)}ms`, proxy.host, setup, false);

    // One process's start-up, nothing resolved.
    const floors = { tagpinVersion: [] as number[], serialDigestEmpty: [] as number[], craneVersion: [] as number[] };
    for (let run = 0; run < 10; run++) {
      budget.check('start-up floors');
      floors.tagpinVersion.push((await checked(process.execPath, [TAGPIN, 'version'], {})).ms);
      floors.serialDigestEmpty.push((await checked(peers.serialDigest, [], { env: goEnv, stdin: '' })).ms);
      floors.craneVersion.push((await checked(peers.crane, ['version'], { env: goEnv })).ms);
    }
    const startUp = {
      tagpinVersionMs: round(median(floors.tagpinVersion), 1),
      serialDigestEmptyMs: round(median(floors.serialDigestEmpty), 1),
      craneVersionMs: round(median(floors.craneVersion), 1),
    };

    const scenarioRows = (label: string, scenario: Scenario): Array<Array<string | number>> => {
      const row = (name: string, tool: ToolRuns): Array<string | number> => {
        const first = tool.runs[0];
        return [`${name} (${label})`, tool.runs.length, tool.medianMs, tool.minMs, tool.maxMs, first?.headManifests ?? 0, first?.getManifests ?? 0, first?.pings ?? 0, round(tool.medianMs / scenario.tagpin.medianMs, 1)];
      };
      return [
        row('tagpin pin -f FILE', scenario.tagpin),
        row('serial crane.Digest, one process', scenario.serialDigest),
        row('crane digest per reference', scenario.craneLoop),
        ...(scenario.craneVersionLoop === undefined ? [] : [row('crane version per reference (floor)', scenario.craneVersionLoop)]),
      ];
    };
    printTable(
      `200 image references (${String(DISTINCT)} distinct) in ${String(DOCUMENTS)} Deployments, TLS registry; go-containerregistry ${GGCR_VERSION}`,
      ['tool', 'runs', 'median ms', 'min ms', 'max ms', 'HEAD manifests', 'GET manifests', 'GET /v2/', 'x tagpin'],
      [...scenarioRows('loopback', loopback), ...scenarioRows(`${String(DELAY_MS)} ms away`, distant)],
    );
    const craneNetMs = loopback.craneVersionLoop === undefined ? Number.NaN : round(loopback.craneLoop.medianMs - loopback.craneVersionLoop.medianMs, 1);
    const ratios = {
      serialDigestLoopback: round(loopback.serialDigest.medianMs / loopback.tagpin.medianMs, 2),
      serialDigestDistant: round(distant.serialDigest.medianMs / distant.tagpin.medianMs, 2),
      craneLoopLoopback: round(loopback.craneLoop.medianMs / loopback.tagpin.medianMs, 2),
      craneLoopDistant: round(distant.craneLoop.medianMs / distant.tagpin.medianMs, 2),
      craneLoopLessStartUpLoopback: round(craneNetMs / loopback.tagpin.medianMs, 2),
      craneLoopLessStartUpDistant: loopback.craneVersionLoop === undefined ? Number.NaN : round((distant.craneLoop.medianMs - loopback.craneVersionLoop.medianMs) / distant.tagpin.medianMs, 2),
    };
    printTable('Start-up alone (median of 10, ms)', ['program', 'ms'], [
      ['tagpin version', startUp.tagpinVersionMs],
      ['serial-digest with no input', startUp.serialDigestEmptyMs],
      ['crane version', startUp.craneVersionMs],
    ]);
    printTable('Ratios: peer median / tagpin median', ['comparison', 'ratio'], Object.entries(ratios).map(([name, value]) => [name, value]));
    const webhook = await recordedWebhookFigures();
    printTable('Webhook figures for tagpin, from the recorded benchmarks (the peer\'s webhook could not be built)', ['figure', 'value', 'from'], webhook.map((f) => [f.figure, f.value, f.from]));

    await writeResult('peers', startedAt, machine, {
      settings: {
        references: DOCUMENTS * CONTAINERS_PER_DOCUMENT,
        distinct: DISTINCT,
        documents: DOCUMENTS,
        runs: RUNS,
        delayMs: DELAY_MS,
        goContainerregistry: GGCR_VERSION,
        go: (await checked('go', ['version'], {})).stdout.trim(),
        crane: (await checked(peers.crane, ['version'], { env: goEnv })).stdout.trim(),
        registry: 'CNCF Distribution (docker-registry), TLS',
      },
      k8sDigester: peers.digester,
      loopback,
      distant,
      startUp,
      ratios,
      webhookFromRecordedResults: webhook,
    });
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
    await rm(pki.dir, { recursive: true, force: true });
  }
});

/** Tries to build k8s-digester, then builds crane and serial-digest against go-containerregistry, all under .cache/peers/. */
async function buildPeers(): Promise<Peers> {
  await checked('go', ['version'], {}).catch(() => {
    throw new Error('this benchmark needs Go (the go command) and the Go module proxy');
  });
  const digesterBin = join(CACHE, 'k8s-digester', 'bin');
  await mkdir(digesterBin, { recursive: true });
  const command = `go install ${DIGESTER}`;
  const tried = await timed('go', ['install', DIGESTER], GO_TIMEOUT_MS, { env: { GOBIN: digesterBin } });
  const listCommand = `go list -m -versions ${DIGESTER.replace(/@.*$/, '')}`;
  const listed = await timed('go', listCommand.split(' ').slice(1), GO_TIMEOUT_MS);
  const digester = {
    command,
    exitCode: tried.code,
    output: tried.stderr.trim(),
    built: tried.code === 0,
    versions: { command: listCommand, exitCode: listed.code, output: `${listed.stdout}${listed.stderr}`.trim() },
  };
  process.stdout.write(`${command}: ${digester.built ? 'built' : `exit ${String(tried.code)}`}\n${digester.output === '' ? '' : `${digester.output}\n`}`);
  process.stdout.write(`${listCommand}: exit ${String(listed.code)}\n${digester.versions.output}\n`);
  if (digester.built) {
    process.stdout.write('k8s-digester builds now: measure it directly (its KRM function and webhook) rather than the stand-ins below.\n');
  }

  const ggcr = join(CACHE, `go-containerregistry-${GGCR_VERSION}`);
  const crane = join(ggcr, 'bin', 'crane');
  if (!existsSync(crane)) {
    await checked('go', ['install', `github.com/google/go-containerregistry/cmd/crane@${GGCR_VERSION}`], { env: { GOBIN: join(ggcr, 'bin') } }, GO_TIMEOUT_MS);
  }
  // serial-digest: the repository's own driver, built as a module of its own that requires go-containerregistry.
  const module = join(ggcr, 'serial-digest');
  await mkdir(module, { recursive: true });
  await copyFile(join(repoRoot, 'bench', 'peers', 'serial-digest.go'), join(module, 'main.go'));
  await writeFile(join(module, 'go.mod'), `module tagpin.bench/serial-digest\n\ngo 1.23\n\nrequire github.com/google/go-containerregistry ${GGCR_VERSION}\n`);
  const serialDigest = join(module, 'serial-digest');
  await timed('go', ['-C', module, 'build', '-mod=mod', '-o', serialDigest, '.'], GO_TIMEOUT_MS, { env: { GOFLAGS: '-buildvcs=false' } }).then((result) => {
    if (result.code !== 0) throw new Error(`go build of serial-digest against go-containerregistry ${GGCR_VERSION} failed: ${lastLines(result.stderr)}`);
  });
  return { crane, serialDigest, digester };
}

/** What every scenario reads and writes. */
interface Setup {
  readonly work: string;
  readonly configFile: string;
  readonly loopFile: string;
  readonly goEnv: Readonly<Record<string, string>>;
  readonly peers: Peers;
  /** repository → the digest the registry reported when it was pushed. */
  readonly digests: ReadonlyMap<string, string>;
  readonly registry: TestRegistry;
  readonly budget: Budget;
}

interface Scenario {
  readonly tagpin: ToolRuns;
  readonly serialDigest: ToolRuns;
  readonly craneLoop: ToolRuns;
  readonly craneVersionLoop?: ToolRuns;
}

/** Writes the workload for images on `host` and runs every tool on it, in turn, RUNS times after one unrecorded round. */
async function compare(label: string, host: string, setup: Setup, withFloor: boolean): Promise<Scenario> {
  const repositories = [...setup.digests.keys()];
  const refs: string[] = [];
  const documents: string[] = [];
  for (let doc = 0; doc < DOCUMENTS; doc++) {
    const containers = Array.from({ length: CONTAINERS_PER_DOCUMENT }, (_, c) => {
      const image = `${host}/${repositories[(doc * CONTAINERS_PER_DOCUMENT + c) % DISTINCT] ?? ''}:v1`;
      refs.push(image);
      return { name: `c${String(c)}`, image };
    });
    documents.push(stringify(deployment(`app-${String(doc)}`, containers)));
  }
  const manifestFile = join(setup.work, `workload-${label}.yaml`);
  await writeFile(manifestFile, documents.join('---\n'));
  const refsFile = join(setup.work, `refs-${label}.txt`);
  const refsText = `${refs.join('\n')}\n`;
  await writeFile(refsFile, refsText);
  const expected = (image: string): string | undefined => setup.digests.get(image.slice(host.length + 1).replace(/:v1$/, ''));
  const checkLines = (tool: string, stdout: string): void => {
    const lines = stdout.trim().split('\n');
    if (lines.length !== refs.length) throw new Error(`${tool} printed ${String(lines.length)} digests for ${String(refs.length)} references`);
    for (const line of lines) {
      const [ref = '', digest = ''] = line.split(' ');
      if (expected(ref) !== digest) throw new Error(`${tool}'s digest for ${ref} (${digest}) is not the registry's (${expected(ref) ?? '?'})`);
    }
  };

  const runOne: Record<Tool, () => Promise<TimedRun>> = {
    tagpin: async () => {
      const result = await checked(process.execPath, [TAGPIN, 'pin', '--config', setup.configFile, '-f', manifestFile], {});
      const pinned = checkPinned(result.stdout, expected);
      if (pinned !== refs.length) throw new Error(`tagpin pin pinned ${String(pinned)} of ${String(refs.length)} references`);
      return result;
    },
    serialDigest: async () => {
      const result = await checked(setup.peers.serialDigest, [], { env: setup.goEnv, stdin: refsText });
      checkLines('serial-digest', result.stdout);
      return result;
    },
    craneLoop: async () => {
      const result = await checked('bash', [setup.loopFile, setup.peers.crane, refsFile, 'digest'], { env: setup.goEnv });
      checkLines('the crane loop', result.stdout);
      return result;
    },
    craneVersionLoop: async () => {
      const result = await checked('bash', [setup.loopFile, setup.peers.crane, refsFile, 'version'], { env: setup.goEnv });
      if (result.stdout.trim().split('\n').length !== refs.length) throw new Error('the crane version loop did not run once per reference');
      return result;
    },
  };
  const tools: Tool[] = ['tagpin', 'serialDigest', 'craneLoop', ...(withFloor ? (['craneVersionLoop'] as const) : [])];
  const runs = new Map<Tool, Run[]>(tools.map((tool) => [tool, []]));
  // Round 0 warms the page cache, the registry and the binaries; it is not recorded. Each round starts with the next tool.
  for (let round = 0; round <= RUNS; round++) {
    for (let i = 0; i < tools.length; i++) {
      const tool = tools[(round + i) % tools.length] as Tool;
      setup.budget.check(`${tool} (${label}, round ${String(round)})`);
      const before = setup.registry.requests().length;
      const result = await runOne[tool]();
      if (round > 0) runs.get(tool)?.push(counted(result.ms, setup.registry.requests().slice(before)));
    }
  }
  const summary = (tool: Tool): ToolRuns => {
    const list = runs.get(tool) ?? [];
    const ms = list.map((run) => run.ms);
    return { medianMs: round(median(ms), 1), minMs: round(Math.min(...ms), 1), maxMs: round(Math.max(...ms), 1), runs: list };
  };
  return {
    tagpin: summary('tagpin'),
    serialDigest: summary('serialDigest'),
    craneLoop: summary('craneLoop'),
    ...(withFloor ? { craneVersionLoop: summary('craneVersionLoop') } : {}),
  };
}

function counted(ms: number, requests: readonly LoggedRequest[]): Run {
  const manifests = (method: string): number => requests.filter((r) => r.method === method && r.path.includes('/manifests/')).length;
  return {
    ms: round(ms, 1),
    headManifests: manifests('HEAD'),
    getManifests: manifests('GET'),
    pings: requests.filter((r) => r.path === '/v2/' || r.path === '/v2').length,
    allRequests: requests.length,
  };
}

/** The webhook figures the comparison needs, as tagpin's own benchmarks last recorded them. */
async function recordedWebhookFigures(): Promise<Array<{ figure: string; value: string; from: string }>> {
  const read = async (name: string): Promise<Record<string, unknown> | undefined> => {
    try {
      return JSON.parse(await readFile(join(resultsDir, `${name}.json`), 'utf8')) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  };
  const from = (name: string, record: Record<string, unknown> | undefined): string => `${name}.json, ${String(record?.['startedAt'] ?? 'not recorded')}`;
  const figures: Array<{ figure: string; value: string; from: string }> = [];
  const warm = await read('warm');
  type WarmRow = { connections: number; tagpin: { rps: number; p99: number }; bare: { rps: number } };
  for (const row of (warm?.['summary'] ?? []) as WarmRow[]) {
    figures.push({ figure: `warm, 3-image Pod, ${String(row.connections)} connection(s): req/s, p99 (bare node:https req/s)`, value: `${String(row.tagpin.rps)} req/s, ${String(row.tagpin.p99)} ms (${String(row.bare.rps)})`, from: from('warm', warm) });
  }
  const economy = await read('economy');
  const within = economy?.['withinTtl'] as { admissions: number; digestAnswers: number; headRequests: number; getRequests: number } | undefined;
  if (within !== undefined) {
    figures.push({
      figure: `manifest requests for ${String(within.admissions)} admissions of 1-image Pods over 5 tags (token registry)`,
      value: `${String(within.digestAnswers)} answering a digest; ${String(within.headRequests)} HEAD, ${String(within.getRequests)} GET in all`,
      from: from('economy', economy),
    });
  }
  const fanout = await read('fanout');
  for (const row of (fanout?.['summary'] ?? []) as Array<{ images: number; medianMs: number }>) {
    if (row.images === 1 || row.images === 10) {
      figures.push({ figure: `cold admission, ${String(row.images)} uncached image(s), registry ${String((fanout?.['settings'] as { delayMs?: number } | undefined)?.delayMs ?? '?')} ms away`, value: `${String(row.medianMs)} ms`, from: from('fanout', fanout) });
    }
  }
  const memory = await read('memory');
  for (const run of (memory?.['runs'] ?? []) as Array<{ variant: string; idleRssMiB: number; finalRssMiB: number }>) {
    if (run.variant === 'chart settings') figures.push({ figure: 'RSS idle / after 100,000 admissions, 10,000 tags (chart settings)', value: `${String(run.idleRssMiB)} / ${String(run.finalRssMiB)} MiB`, from: from('memory', memory) });
  }
  const startup = await read('startup');
  const first = ((startup?.['summary'] ?? []) as Array<{ variant: string; readyMs: number }>)[0];
  if (first !== undefined) figures.push({ figure: `start-up to /readyz (${first.variant})`, value: `${String(first.readyMs)} ms`, from: from('startup', startup) });
  return figures;
}

/** `timed`, failing with the program's last lines when it exits non-zero. */
async function checked(program: string, args: readonly string[], options: { readonly env?: Readonly<Record<string, string>>; readonly stdin?: string }, timeoutMs = 600_000): Promise<TimedRun> {
  const result = await timed(program, args, timeoutMs, options);
  if (result.code !== 0) throw new Error(`${program} ${args.join(' ')} exited ${String(result.code)}: ${lastLines(result.stderr)}`);
  return result;
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ');
}
