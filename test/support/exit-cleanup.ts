// Makes sure test processes and temp directories never outlive the test process that made them.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const dirs = new Set<string>();
const children = new Set<ChildProcess>();
let hooked = false;
let watchdog: ChildProcess | undefined;

/**
 * Kills every process and removes every directory it was told about when its stdin closes, which
 * happens when the test process dies for any reason, SIGKILL included, where no 'exit' handler runs.
 * Lines are "+pid PID", "-pid PID", "+dir PATH", "-dir PATH".
 */
const watchdogScript = `
pids=''
dirs=''
while IFS= read -r line; do
  arg=\${line#* }
  case "$line" in
    '+pid '*) pids="$pids
$arg" ;;
    '-pid '*) pids=$(printf '%s\\n' "$pids" | grep -vxF -- "$arg") ;;
    '+dir '*) dirs="$dirs
$arg" ;;
    '-dir '*) dirs=$(printf '%s\\n' "$dirs" | grep -vxF -- "$arg") ;;
  esac
done
printf '%s\\n' "$pids" | while read -r pid; do [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; done
printf '%s\\n' "$dirs" | while IFS= read -r dir; do [ -n "$dir" ] && rm -rf -- "$dir"; done
exit 0
`;

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
}

function tellWatchdog(line: string): void {
  if (watchdog === undefined) {
    watchdog = spawn('sh', ['-c', watchdogScript], { stdio: ['pipe', 'ignore', 'ignore'] });
    watchdog.on('error', () => undefined);
    watchdog.stdin?.on('error', () => undefined);
    // Neither the watchdog nor its pipe may keep the test process alive.
    watchdog.unref();
    (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  }
  watchdog.stdin?.write(`${line}\n`);
}

/** Removes `dir` (recursively) when the test process exits, unless it was released before. */
export function removeOnExit(dir: string): void {
  hook();
  dirs.add(dir);
  tellWatchdog(`+dir ${dir}`);
}

/** Forgets a directory the caller already removed. */
export function releaseDir(dir: string): void {
  if (dirs.delete(dir)) tellWatchdog(`-dir ${dir}`);
}

/** Kills `child` when the test process exits or dies; forgotten once the child exits by itself. */
export function killOnExit(child: ChildProcess): void {
  hook();
  const pid = child.pid;
  if (pid === undefined) return;
  children.add(child);
  tellWatchdog(`+pid ${String(pid)}`);
  child.once('exit', () => {
    children.delete(child);
    tellWatchdog(`-pid ${String(pid)}`);
  });
}

/** Stops `child`: SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves once it has exited. */
export async function terminate(child: ChildProcess, graceMs = 2_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    resolve();
  }));
  child.kill('SIGTERM');
  const graceful = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!graceful) {
    child.kill('SIGKILL');
    await exited;
  }
}
