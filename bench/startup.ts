// Start-up: `tagpin serve` from exec to ready (its "listening" line, then /readyz answering 200), and from SIGTERM to exit.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { killOnExit } from '../test/support/exit-cleanup.ts';
import { createPki } from '../test/support/pki.ts';
import { Budget, describeMachine, envNumber, median, printTable, repoRoot, round, runBenchmark, writeResult } from './lib/bench.ts';
import { summariseProfile } from './lib/cpuprofile.ts';
import { builtBundle, cleanEnv, freePort, tagpinNodeArgs } from './lib/processes.ts';

const RUNS = envNumber('BENCH_RUNS', 10);

/** One way of starting the server. */
interface Variant {
  readonly name: string;
  /** `server` settings besides the ports, which each start picks afresh. */
  readonly server: Readonly<Record<string, unknown>>;
  readonly env: Readonly<Record<string, string>>;
  readonly nodeArgs?: readonly string[];
  /** What Node runs: the TypeScript sources or the built bundle. */
  readonly script: string;
}

/** What one start took, in milliseconds from spawn. */
interface Start {
  readonly listening: number;
  readonly ready: number;
  readonly exitAfterSigterm: number;
}

await runBenchmark('startup', async () => {
  const startedAt = new Date();
  const machine = describeMachine();
  const budget = new Budget('startup', 10 * 60_000);
  const work = await mkdtemp(join(tmpdir(), 'tagpin-bench-startup-'));
  const pki = await createPki();
  try {
    const serving = await pki.issue('bench-webhook', []);
    const withCert = { tlsCert: serving.certFile, tlsKey: serving.keyFile };
    const compileCache = join(work, 'compile-cache');
    const dist = await builtBundle();
    const src = 'src/main.ts';
    const variants: readonly Variant[] = [
      { name: 'bundle, certificate from files (as in a cluster)', server: withCert, env: {}, script: dist },
      { name: 'bundle, self-signed certificate generated', server: {}, env: {}, script: dist },
      { name: 'bundle, certificate from files, NODE_COMPILE_CACHE set', server: withCert, env: { NODE_COMPILE_CACHE: compileCache }, script: dist },
      { name: 'sources, certificate from files', server: withCert, env: {}, script: src },
      { name: 'sources, self-signed certificate generated', server: {}, env: {}, script: src },
      { name: 'sources, certificate from files, NODE_COMPILE_CACHE set', server: withCert, env: { NODE_COMPILE_CACHE: `${compileCache}-src` }, script: src },
    ];

    const results = new Map<string, Start[]>(variants.map((v) => [v.name, []]));
    const nodeStart: number[] = [];
    // Run 0 fills the page cache (and the compile cache) and is not recorded; variants take turns so drift hits all alike.
    for (let run = 0; run <= RUNS; run++) {
      for (const variant of variants) {
        budget.check(`run ${String(run)} of ${variant.name}`);
        const start = await startOnce(variant, work);
        if (run > 0) results.get(variant.name)?.push(start);
      }
      if (run > 0) nodeStart.push(await timeNode());
    }

    const summary = variants.map((variant) => {
      const starts = results.get(variant.name) ?? [];
      return {
        variant: variant.name,
        listeningMs: round(median(starts.map((s) => s.listening)), 1),
        readyMs: round(median(starts.map((s) => s.ready)), 1),
        minReadyMs: round(Math.min(...starts.map((s) => s.ready)), 1),
        maxReadyMs: round(Math.max(...starts.map((s) => s.ready)), 1),
        sigtermToExitMs: round(median(starts.map((s) => s.exitAfterSigterm)), 1),
        runs: starts.map((s) => ({ listening: round(s.listening, 1), ready: round(s.ready, 1), exitAfterSigterm: round(s.exitAfterSigterm, 1) })),
      };
    });
    printTable(
      `Start-up of tagpin serve (median of ${String(RUNS)} runs; ms from spawn)`,
      ['variant', '"listening" line', '/readyz 200', 'min', 'max', 'SIGTERM to exit'],
      [
        ...summary.map((s) => [s.variant, s.listeningMs, s.readyMs, s.minReadyMs, s.maxReadyMs, s.sigtermToExitMs]),
        ['node -e 0 (Node alone)', round(median(nodeStart), 1), round(median(nodeStart), 1), round(Math.min(...nodeStart), 1), round(Math.max(...nodeStart), 1), 0],
      ],
    );
    // One more start under the CPU profiler (not timed): which modules the time goes to.
    const profileDir = join(work, 'profile');
    await startOnce({ ...(variants[0] ?? { name: '', server: {}, env: {}, script: dist }), nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] }, work);
    const profileFile = (await readdir(profileDir)).find((name) => name.endsWith('.cpuprofile'));
    const profile = profileFile === undefined ? undefined : await summariseProfile(join(profileDir, profileFile), 15);
    if (profile !== undefined) {
      printTable(
        `One start under the profiler (${String(profile.totalMs)} ms profiled): self time by module, % of busy`,
        ['module', 'ms', '%'],
        profile.byModule.slice(0, 12).map((share) => [share.name, share.ms, share.percent]),
      );
    }
    const imports = await importCosts(budget);
    printTable(
      'Loading alone: a fresh `node` that imports only this and exits (median of 5, ms)',
      ['import', 'ms', 'more than node -e 0', 'RSS MiB', 'more than node -e 0'],
      imports.map((i) => [i.name, i.ms, i.extraMs, i.rssMiB, i.extraRssMiB]),
    );
    await writeResult('startup', startedAt, machine, { settings: { runs: RUNS }, summary, nodeStartMs: round(median(nodeStart), 1), imports, profile });
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(pki.dir, { recursive: true, force: true });
  }
});

/** Spawns the server, waits for its "listening" line and a 200 from /readyz, then SIGTERMs it and waits for the exit. */
async function startOnce(variant: Variant, work: string): Promise<Start> {
  const config = join(work, 'config.yaml');
  await writeFile(config, stringify({ server: { ...variant.server, port: await freePort(), metricsPort: await freePort() } }));
  const started = performance.now();
  const child = spawn(process.execPath, [...tagpinNodeArgs(), ...(variant.nodeArgs ?? []), variant.script, 'serve', '--config', config], {
    cwd: repoRoot,
    env: { ...cleanEnv(), ...variant.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);
  const exited = new Promise<number>((resolve) => child.once('exit', () => {
    resolve(performance.now());
  }));
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    const { at: listening, port } = await new Promise<{ at: number; port: number }>((resolve, reject) => {
      let partial = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        partial += chunk;
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          if (!line.includes('"listening"')) continue;
          const parsed = JSON.parse(line) as { msg?: string; port?: number };
          if (parsed.msg === 'listening' && typeof parsed.port === 'number') resolve({ at: performance.now(), port: parsed.port });
        }
      });
      void exited.then(() => {
        reject(new Error(`tagpin serve exited before listening: ${stderr.trim().split('\n').slice(-2).join(' | ')}`));
      });
    });
    const agent = new Agent({ connect: { rejectUnauthorized: false } });
    let ready = Number.NaN;
    try {
      for (let attempt = 0; attempt < 500 && Number.isNaN(ready); attempt++) {
        const answer = await request(`https://127.0.0.1:${String(port)}/readyz`, { dispatcher: agent, headersTimeout: 5_000, bodyTimeout: 5_000 });
        await answer.body.dump();
        if (answer.statusCode === 200) ready = performance.now();
      }
    } finally {
      await agent.close();
    }
    if (Number.isNaN(ready)) throw new Error('/readyz never answered 200');
    const signalled = performance.now();
    child.kill('SIGTERM');
    const exitAt = await exited;
    return { listening: listening - started, ready: ready - started, exitAfterSigterm: exitAt - signalled };
  } finally {
    clearTimeout(guard);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** How long a fresh process takes to import each dependency that `tagpin serve` loads, alone. */
async function importCosts(
  budget: Budget,
): Promise<ReadonlyArray<{ readonly name: string; readonly ms: number; readonly extraMs: number; readonly rssMiB: number; readonly extraRssMiB: number }>> {
  const specifiers = [
    '',
    // Any TypeScript file makes Node load its type stripper; src/errors imports nothing else.
    './src/errors/index.ts',
    'undici',
    'express',
    'pino',
    'prom-client',
    'yaml',
    'selfsigned',
    '@kubernetes/client-node',
    // What tagpin loads of the client: its KubeConfig alone (src/kube/config.ts).
    '@kubernetes/client-node/dist/config.js',
    './src/registry/index.ts',
    './src/server/index.ts',
  ];
  const costs = [];
  let floor = Number.NaN;
  let rssFloor = Number.NaN;
  for (const specifier of specifiers) {
    const times: number[] = [];
    for (let run = 0; run < 5; run++) {
      budget.check(`importing ${specifier}`);
      times.push(await timeNode(specifier === '' ? ['-e', '0'] : ['--input-type=module', '-e', `await import(${JSON.stringify(specifier)});`]));
    }
    const ms = median(times);
    const rssMiB = rssAfterImport(specifier);
    if (specifier === '') {
      floor = ms;
      rssFloor = rssMiB;
    }
    costs.push({
      name: specifier === '' ? 'nothing (node -e 0)' : specifier,
      ms: round(ms, 1),
      extraMs: round(ms - floor, 1),
      rssMiB: round(rssMiB, 1),
      extraRssMiB: round(rssMiB - rssFloor, 1),
    });
  }
  return costs;
}

/** RSS (MiB) of a fresh `node` right after importing `specifier` ('' for nothing), after a full GC. */
function rssAfterImport(specifier: string): number {
  const load = specifier === '' ? '' : `await import(${JSON.stringify(specifier)});`;
  const script = `${load} globalThis.gc(); process.stdout.write(String(process.memoryUsage().rss));`;
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  return Number(out) / 1024 / 1024;
}

async function timeNode(args: readonly string[] = ['-e', '0']): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [...args], { cwd: repoRoot, stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', () => {
      resolve();
    });
  });
  return performance.now() - started;
}
