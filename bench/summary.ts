// Prints the key figures of bench/results/*.json as Markdown tables, for BENCHMARKS.md.
// Usage: node bench/summary.ts
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resultsDir, runBenchmark } from './lib/bench.ts';

type Json = Record<string, unknown>;

await runBenchmark('summary', async () => {
  const read = async (name: string): Promise<Json | undefined> => {
    try {
      return JSON.parse(await readFile(join(resultsDir, `${name}.json`), 'utf8')) as Json;
    } catch {
      return undefined;
    }
  };
  const out: string[] = [];
  const table = (headers: readonly string[], rows: ReadonlyArray<readonly unknown[]>): void => {
    out.push(`| ${headers.join(' | ')} |`, `| ${headers.map(() => '---').join(' | ')} |`);
    for (const row of rows) out.push(`| ${row.map((cell) => (cell === undefined ? '' : String(cell))).join(' | ')} |`);
    out.push('');
  };
  const when = (result: Json | undefined): string => {
    if (result === undefined) return 'not run';
    const machine = result['machine'] as { loadAverage?: readonly number[] } | undefined;
    return `${String(result['startedAt']).slice(0, 16).replace('T', ' ')} UTC, load ${(machine?.loadAverage ?? []).join('/')}`;
  };

  const warm = await read('warm');
  const fanout = await read('fanout');
  const economy = await read('economy');
  const cli = await read('cli');
  const memory = await read('memory');
  const startup = await read('startup');
  const cliStart = await read('cli-start');

  out.push('### Targets', '');
  const rows: unknown[][] = [];
  const warmSummary = (warm?.['summary'] ?? []) as ReadonlyArray<{ connections: number; ratio: number; tagpin: { rps: number; p99: number }; bare: { rps: number } }>;
  for (const s of warmSummary) {
    if (s.connections === 1) rows.push(['warm: p99 at 1 connection', '<= 2 ms', `${String(s.tagpin.p99)} ms`, s.tagpin.p99 <= 2 ? 'yes' : 'no']);
    else rows.push([`warm: req/s ratio at ${String(s.connections)} connections`, '>= 0.85', `${String(s.ratio)} (${String(s.tagpin.rps)} / ${String(s.bare.rps)})`, s.ratio >= 0.85 ? 'yes' : 'no']);
  }
  const fan = (fanout?.['summary'] ?? []) as ReadonlyArray<{ images: number; medianMs: number; vsOneImage: number }>;
  const ten = fan.find((s) => s.images === 10);
  const one = fan.find((s) => s.images === 1);
  if (ten !== undefined && one !== undefined) rows.push(['fan-out: 10 images vs 1', '<= 1.3x', `${String(ten.vsOneImage)}x (${String(ten.medianMs)} / ${String(one.medianMs)} ms)`, ten.vsOneImage <= 1.3 ? 'yes' : 'no']);
  const within = economy?.['withinTtl'] as { digestAnswers: number; getRequests: number; tokenRequests: number; manifestRequests: Record<string, number> } | undefined;
  const burst = economy?.['burst'] as { digestAnswers: number; tokenRequests: number } | undefined;
  if (within !== undefined) rows.push(['economy: 1,000 admissions, 5 images', '5 manifest requests', `${String(within.digestAnswers)} digest answers (+${String(within.manifestRequests['HEAD 401'] ?? 0)} challenges), ${String(within.getRequests)} GET, ${String(within.tokenRequests)} tokens`, within.digestAnswers === 5 ? 'yes' : 'no']);
  if (burst !== undefined) rows.push(['economy: 100 concurrent cold, 1 image', '1 manifest request', `${String(burst.digestAnswers)}, ${String(burst.tokenRequests)} token`, burst.digestAnswers === 1 ? 'yes' : 'no']);
  if (cli !== undefined) {
    const loop = cli['loopback'] as { tagpin: { medianMs: number }; skopeo: { medianMs: number } };
    const far = cli['distant'] as { tagpin: { medianMs: number }; skopeo: { medianMs: number } };
    const settings = cli['settings'] as { delayMs: number };
    rows.push(['CLI vs skopeo loop, loopback', '>= 20x', `${String(cli['speedup'])}x (${String(loop.skopeo.medianMs)} / ${String(loop.tagpin.medianMs)} ms)`, Number(cli['speedup']) >= 20 ? 'yes' : 'no']);
    rows.push([`CLI vs skopeo loop, registry ${String(settings.delayMs)} ms away`, '>= 20x', `${String(cli['distantSpeedup'])}x (${String(far.skopeo.medianMs)} / ${String(far.tagpin.medianMs)} ms)`, Number(cli['distantSpeedup']) >= 20 ? 'yes' : 'no']);
  }
  for (const run of (memory?.['runs'] ?? []) as ReadonlyArray<{ variant: string; finalRssMiB: number; maxRssMiB: number; lastHalfGrowthMiB: number; targets: { rss: { met: boolean }; flat: { met: boolean } } }>) {
    rows.push([`memory (${run.variant}): RSS after 100,000`, '<= 120 MiB', `${String(run.finalRssMiB)} MiB (max ${String(run.maxRssMiB)})`, run.targets.rss.met ? 'yes' : 'no']);
    rows.push([`memory (${run.variant}): last half`, 'flat', `${String(run.lastHalfGrowthMiB)} MiB`, run.targets.flat.met ? 'yes' : 'no']);
  }
  for (const s of (startup?.['summary'] ?? []) as ReadonlyArray<{ variant: string; readyMs: number }>) rows.push([`start-up: ${s.variant}`, '(no target)', `${String(s.readyMs)} ms to /readyz`, '']);
  for (const s of (cliStart?.['summary'] ?? []) as ReadonlyArray<{ variant: string; medianMs: number; minMs: number }>) {
    if (!/^(installed package|single executable): /.test(s.variant) || s.variant.endsWith('(before)')) continue;
    rows.push([`CLI start-up: ${s.variant}`, '<= 150 ms', `${String(s.medianMs)} ms (min ${String(s.minMs)})`, s.medianMs <= 150 ? 'yes' : 'no']);
  }
  table(['benchmark', 'target', 'measured (median)', 'met'], rows);

  out.push('### Runs', '');
  table(
    ['result', 'run at'],
    [
      ['warm', when(warm)],
      ['fanout', when(fanout)],
      ['economy', when(economy)],
      ['cli', when(cli)],
      ['memory', when(memory)],
      ['startup', when(startup)],
      ['cli-start', when(cliStart)],
    ],
  );
  process.stdout.write(`${out.join('\n')}\n`);
});
