// The control plane never outlives the test process that started it, however that process ends.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { killOnExit } from '../support/exit-cleanup.ts';

interface Held {
  readonly pids: readonly number[];
  readonly dir: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs support/hold-cluster.ts until it reports its control plane, then ends it with `signal`. */
async function holdAndKill(signal: NodeJS.Signals): Promise<Held> {
  const child = spawn(process.execPath, [new URL('support/hold-cluster.ts', import.meta.url).pathname], { stdio: ['ignore', 'pipe', 'inherit'] });
  killOnExit(child);
  let output = '';
  child.stdout.setEncoding('utf8');
  const held = await new Promise<Held>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('\n')) resolve(JSON.parse(output.split('\n')[0] ?? '') as Held);
    });
    child.once('exit', (code) => {
      reject(new Error(`hold-cluster exited (${String(code)}) before reporting: ${output}`));
    });
  });
  for (const pid of held.pids) assert.ok(alive(pid), `process ${String(pid)} runs before the kill`);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
  return held;
}

/** Waits (bounded) for the watchdog to finish: it kills by PID, then removes the folder. */
async function gone(held: Held): Promise<{ readonly pids: number[]; readonly dir: boolean }> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (held.pids.every((pid) => !alive(pid)) && !existsSync(held.dir)) break;
    await sleep(100);
  }
  return { pids: held.pids.filter(alive), dir: existsSync(held.dir) };
}

describe('control plane teardown', () => {
  for (const signal of ['SIGINT', 'SIGKILL'] as const) {
    it(`kills etcd, kube-apiserver and kube-controller-manager and removes the folder when the test process gets ${signal}`, async () => {
      const held = await holdAndKill(signal);
      assert.deepEqual(await gone(held), { pids: [], dir: false });
    });
  }
});
