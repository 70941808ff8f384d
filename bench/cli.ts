// CLI: `tagpin pin` over manifests with 200 image references (50 distinct) against a shell loop of
// `skopeo inspect --raw | sha256sum` over the same references and the same TLS registry: on loopback,
// and again with the registry behind a proxy that adds a fixed delay to every request.
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createPki } from '../test/support/pki.ts';
import { startRegistry } from '../test/support/registry.ts';
import type { TestRegistry } from '../test/support/registry.ts';
import { Budget, describeMachine, envNumber, median, printTable, repoRoot, round, runBenchmark, writeResult } from './lib/bench.ts';
import { summariseProfile } from './lib/cpuprofile.ts';
import type { ProfileSummary } from './lib/cpuprofile.ts';
import { startDelayProxy } from './lib/delay-proxy.ts';
import { checkPinned, deployment, pushImages, timed } from './lib/cli-runs.ts';

const DISTINCT = 50;
const FILES = 10;
const DOCUMENTS_PER_FILE = 4;
const CONTAINERS_PER_DOCUMENT = 5;
const TAGPIN_RUNS = envNumber('BENCH_TAGPIN_RUNS', 5);
const SKOPEO_RUNS = envNumber('BENCH_SKOPEO_RUNS', 3);
const DELAY_MS = envNumber('BENCH_CLI_DELAY_MS', 25);
/** What `npx tagpin` runs: the launcher, which imports src/main.ts. */
const TAGPIN = join(repoRoot, 'bin', 'tagpin.js');

/** The skopeo loop: one `skopeo inspect --raw` per reference, the digest being sha256 of the exact manifest bytes. */
const SKOPEO_LOOP = `set -eu -o pipefail
while IFS= read -r ref; do
  printf '%s sha256:' "$ref"
  skopeo inspect --raw --cert-dir "$1" "docker://$ref" | sha256sum | cut -d' ' -f1
done < "$2"
`;

/** One tool's runs in one scenario. */
interface ToolRuns {
  readonly medianMs: number;
  readonly runsMs: readonly number[];
  readonly manifestRequestsPerRun: number;
}

/** Files both tools read, and what they are checked against. */
interface Workspace {
  readonly work: string;
  readonly certDir: string;
  readonly configFile: string;
  readonly loopFile: string;
  /** repository → the digest the registry reported when it was pushed. */
  readonly digests: ReadonlyMap<string, string>;
}

await runBenchmark('cli', async () => {
  const startedAt = new Date();
  const machine = describeMachine();
  const budget = new Budget('cli', 25 * 60_000);
  const work = await mkdtemp(join(tmpdir(), 'tagpin-bench-cli-'));
  const pki = await createPki();
  const registry = await startRegistry('tls', { pki });
  const cleanups: Array<() => Promise<void>> = [];
  try {
    await requireSkopeo();
    const digests = await pushImages(registry, 'cli', DISTINCT, budget);
    // skopeo reads the CAs to trust from *.crt files in --cert-dir.
    const certDir = join(work, 'certs');
    await mkdir(certDir);
    await copyFile(pki.caFile, join(certDir, 'ca.crt'));
    const configFile = join(work, 'tagpin.yaml');
    // Loopback addresses are refused unless listed.
    await writeFile(configFile, stringify({ registries: { caFile: pki.caFile, allow: ['127.0.0.1'] } }));
    const loopFile = join(work, 'skopeo-loop.sh');
    await writeFile(loopFile, SKOPEO_LOOP);
    const space: Workspace = { work, certDir, configFile, loopFile, digests };

    const loopback = await compare('loopback', registry.host, registry, space, budget);

    const proxyCert = await pki.issue('bench-proxy', []);
    const proxy = await startDelayProxy(registry.baseUrl, DELAY_MS, { cert: proxyCert.certPem, key: proxyCert.keyPem, ca: pki.caPem });
    cleanups.push(() => proxy.close());
    const distant = await compare(`${String(DELAY_MS)}ms`, proxy.host, registry, space, budget);

    // Start-up is part of every CLI run: Node's own, and loading tagpin's modules (`tagpin version` does nothing else).
    const nodeStart: number[] = [];
    const versionRuns: number[] = [];
    for (let run = 0; run < 5; run++) {
      budget.check('start-up floors');
      nodeStart.push((await timed(process.execPath, ['-e', '0'], 30_000)).ms);
      versionRuns.push((await timed(process.execPath, [TAGPIN, 'version'], 30_000)).ms);
    }
    const profile = await profilePin(space, join(work, 'manifests-loopback'));

    const rows = (label: string, result: { tagpin: ToolRuns; skopeo: ToolRuns }): Array<Array<string | number>> => [
      [`tagpin pin -f DIR (${label})`, result.tagpin.runsMs.length, round(result.tagpin.medianMs, 0), round(Math.min(...result.tagpin.runsMs), 0), round(Math.max(...result.tagpin.runsMs), 0), result.tagpin.manifestRequestsPerRun],
      [`skopeo inspect --raw loop (${label})`, result.skopeo.runsMs.length, round(result.skopeo.medianMs, 0), round(Math.min(...result.skopeo.runsMs), 0), round(Math.max(...result.skopeo.runsMs), 0), result.skopeo.manifestRequestsPerRun],
    ];
    printTable(
      `CLI: 200 image references (${String(DISTINCT)} distinct) in ${String(FILES)} files, TLS registry`,
      ['tool', 'runs', 'median ms', 'min ms', 'max ms', 'manifest requests per run'],
      [
        ...rows('loopback', loopback),
        ...rows(`registry ${String(DELAY_MS)} ms away`, distant),
        ['tagpin version (loading the CLI)', versionRuns.length, round(median(versionRuns), 0), round(Math.min(...versionRuns), 0), round(Math.max(...versionRuns), 0), 0],
        ['node -e 0 (Node start-up)', nodeStart.length, round(median(nodeStart), 0), round(Math.min(...nodeStart), 0), round(Math.max(...nodeStart), 0), 0],
      ],
    );
    if (profile !== undefined) {
      printTable(
        `tagpin pin on loopback under the profiler (${String(profile.totalMs)} ms, idle ${String(profile.idlePercent)}%): self time by module, % of busy`,
        ['module', 'ms', '%'],
        profile.byModule.slice(0, 12).map((share) => [share.name, share.ms, share.percent]),
      );
    }
    const speedup = round(loopback.skopeo.medianMs / loopback.tagpin.medianMs, 1);
    const distantSpeedup = round(distant.skopeo.medianMs / distant.tagpin.medianMs, 1);
    const targets = {
      speedup: { target: '>= 20x (loopback)', value: speedup, met: speedup >= 20 },
      distantSpeedup: { target: `>= 20x (registry ${String(DELAY_MS)} ms away)`, value: distantSpeedup, met: distantSpeedup >= 20 },
    };
    printTable('Targets: skopeo loop time / tagpin pin time', ['target', 'wanted', 'measured', 'met'], Object.entries(targets).map(([name, t]) => [name, t.target, t.value, t.met ? 'yes' : 'NO']));
    await writeResult('cli', startedAt, machine, {
      settings: {
        references: DISTINCT * 4,
        distinct: DISTINCT,
        files: FILES,
        tagpinRuns: TAGPIN_RUNS,
        skopeoRuns: SKOPEO_RUNS,
        delayMs: DELAY_MS,
        skopeo: (await timed('skopeo', ['--version'], 30_000)).stdout.trim(),
      },
      loopback,
      distant,
      nodeStartMs: round(median(nodeStart), 1),
      tagpinVersionMs: round(median(versionRuns), 1),
      speedup,
      distantSpeedup,
      profile,
      targets,
    });
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await registry.stop();
    await rm(work, { recursive: true, force: true });
    await rm(pki.dir, { recursive: true, force: true });
  }
});

/** Writes the manifests and reference list for images on `host`, then times both tools over them. */
async function compare(
  label: string,
  host: string,
  registry: TestRegistry,
  space: Workspace,
  budget: Budget,
): Promise<{ readonly tagpin: ToolRuns; readonly skopeo: ToolRuns }> {
  const repositories = [...space.digests.keys()];
  const manifests = join(space.work, `manifests-${label}`);
  await mkdir(manifests);
  // 10 files × 4 Deployments × 5 containers = 200 references; each image appears 4 times, spread over files.
  const refs: string[] = [];
  for (let file = 0; file < FILES; file++) {
    const documents: string[] = [];
    for (let doc = 0; doc < DOCUMENTS_PER_FILE; doc++) {
      const containers = Array.from({ length: CONTAINERS_PER_DOCUMENT }, (_, c) => {
        const repository = repositories[(file * DOCUMENTS_PER_FILE * CONTAINERS_PER_DOCUMENT + doc * CONTAINERS_PER_DOCUMENT + c) % DISTINCT] ?? '';
        const image = `${host}/${repository}:v1`;
        refs.push(image);
        return { name: `c${String(c)}`, image };
      });
      documents.push(stringify(deployment(`app-${String(file)}-${String(doc)}`, containers)));
    }
    await writeFile(join(manifests, `app-${String(file)}.yaml`), `# service ${String(file)}\n${documents.join('---\n')}`);
  }
  const refsFile = join(space.work, `refs-${label}.txt`);
  await writeFile(refsFile, `${refs.join('\n')}\n`);
  const expected = (image: string): string | undefined => space.digests.get(image.slice(host.length + 1).replace(/:v1$/, ''));

  const tagpinRuns: number[] = [];
  const tagpinRequests: number[] = [];
  // Run 0 warms the page cache, the registry and Node's compile cache when enabled; it is not recorded.
  for (let run = 0; run <= TAGPIN_RUNS; run++) {
    budget.check(`tagpin pin runs (${label})`);
    const before = registry.manifestRequests().length;
    const result = await timed(process.execPath, [TAGPIN, 'pin', '--config', space.configFile, '-f', manifests], 120_000);
    if (result.code !== 0) throw new Error(`tagpin pin exited ${String(result.code)}: ${result.stderr.trim()}`);
    const pinned = checkPinned(result.stdout, expected);
    if (pinned !== refs.length) throw new Error(`tagpin pin pinned ${String(pinned)} of ${String(refs.length)} references`);
    if (run > 0) {
      tagpinRuns.push(result.ms);
      tagpinRequests.push(registry.manifestRequests().length - before);
    }
  }

  const skopeoRuns: number[] = [];
  const skopeoRequests: number[] = [];
  for (let run = 0; run < SKOPEO_RUNS; run++) {
    budget.check(`skopeo loop runs (${label})`);
    const before = registry.manifestRequests().length;
    const result = await timed('bash', [space.loopFile, space.certDir, refsFile], 600_000);
    if (result.code !== 0) throw new Error(`the skopeo loop exited ${String(result.code)}: ${result.stderr.trim().split('\n').slice(-2).join(' | ')}`);
    const lines = result.stdout.trim().split('\n');
    if (lines.length !== refs.length) throw new Error(`the skopeo loop printed ${String(lines.length)} digests for ${String(refs.length)} references`);
    for (const line of lines) {
      const [ref = '', digest = ''] = line.split(' ');
      if (expected(ref) !== digest) throw new Error(`skopeo's digest for ${ref} (${digest}) is not the registry's (${expected(ref) ?? '?'})`);
    }
    skopeoRuns.push(result.ms);
    skopeoRequests.push(registry.manifestRequests().length - before);
  }
  const summary = (runs: readonly number[], requests: readonly number[]): ToolRuns => ({
    medianMs: round(median(runs), 1),
    runsMs: runs.map((ms) => round(ms, 1)),
    manifestRequestsPerRun: median(requests),
  });
  return { tagpin: summary(tagpinRuns, tagpinRequests), skopeo: summary(skopeoRuns, skopeoRequests) };
}

/** One more `pin` run under the CPU profiler (not timed), to show where the time goes. */
async function profilePin(space: Workspace, manifests: string): Promise<ProfileSummary | undefined> {
  const profileDir = join(space.work, 'profile');
  await mkdir(profileDir);
  const result = await timed(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, TAGPIN, 'pin', '--config', space.configFile, '-f', manifests], 120_000);
  if (result.code !== 0) throw new Error(`profiled tagpin pin exited ${String(result.code)}`);
  const file = (await readdir(profileDir)).find((name) => name.endsWith('.cpuprofile'));
  if (file === undefined) return undefined;
  const keep = process.env.BENCH_KEEP_PROFILE;
  if (keep !== undefined && keep !== '') await writeFile(keep, await readFile(join(profileDir, file)));
  return summariseProfile(join(profileDir, file), 15);
}

async function requireSkopeo(): Promise<void> {
  const result = await timed('skopeo', ['--version'], 30_000).catch(() => undefined);
  if (result?.code !== 0) throw new Error('this benchmark needs skopeo: apt-get install -y skopeo');
}
