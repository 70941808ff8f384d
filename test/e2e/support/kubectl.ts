// kubectl and helm against the e2e cluster, as a user would run them, with the answers parsed.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { removeOnExit } from '../../support/exit-cleanup.ts';
import { kubeTools, runHelmAsync } from '../../support/helm.ts';
import type { HelmResult } from '../../support/helm.ts';

/** What one command printed and how it exited. */
export interface CommandResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A loosely typed object read back from the API server. */
export type Json = Record<string, unknown>;

/** kubectl and helm bound to one kubeconfig. */
export interface Kubectl {
  readonly kubeconfig: string;
  /** Runs kubectl; `input` goes to stdin (for `-f -`). Never throws on a non-zero exit. */
  run(args: readonly string[], input?: string): Promise<CommandResult>;
  /** Runs kubectl and fails with its stderr unless it exits 0; returns stdout. */
  ok(args: readonly string[], input?: string): Promise<string>;
  /** `kubectl apply -f -` of `objects` (JSON documents); never throws on a non-zero exit. */
  apply(objects: readonly Json[], extraArgs?: readonly string[]): Promise<CommandResult>;
  /** `kubectl get -o json`; undefined when it is not found. */
  get(resource: string, name: string, namespace?: string): Promise<Json | undefined>;
  /** Creates a namespace (with `labels`) and waits for its `default` ServiceAccount, which Pods need. */
  createNamespace(name: string, labels?: Readonly<Record<string, string>>): Promise<void>;
  /** Runs helm with this kubeconfig. */
  helm(args: readonly string[]): Promise<HelmResult>;
}

let home: string | undefined;

/** kubectl/helm for `kubeconfig`, with HOME in a private temp folder so no user setup is read. */
export function kubectlFor(kubeconfig: string): Kubectl {
  if (home === undefined) {
    home = mkdtempSync(join(tmpdir(), 'tagpin-e2e-home-'));
    removeOnExit(home);
  }
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home, KUBECONFIG: kubeconfig };
  const run = (args: readonly string[], input?: string): Promise<CommandResult> =>
    new Promise((resolve, reject) => {
      const child = execFile(kubeTools().kubectl, [...args], { env, timeout: 120_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') {
          reject(new Error(`kubectl ${args.join(' ')}: ${error.message}`));
          return;
        }
        resolve({ status: error === null ? 0 : (error.code as number), stdout, stderr });
      });
      child.stdin?.end(input ?? '');
    });
  const ok = async (args: readonly string[], input?: string): Promise<string> => {
    const result = await run(args, input);
    if (result.status !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${String(result.status)}: ${result.stderr.trim()}`);
    return result.stdout;
  };
  return {
    kubeconfig,
    run,
    ok,
    apply: (objects, extraArgs = []) => run(['apply', '-f', '-', ...extraArgs], objects.map((o) => JSON.stringify(o)).join('\n')),
    async get(resource, name, namespace) {
      const result = await run(['get', resource, name, '-o', 'json', ...(namespace === undefined ? [] : ['-n', namespace])]);
      if (result.status !== 0) {
        if (/NotFound|not found/.test(result.stderr)) return undefined;
        throw new Error(`kubectl get ${resource} ${name}: ${result.stderr.trim()}`);
      }
      return JSON.parse(result.stdout) as Json;
    },
    async createNamespace(name, labels = {}) {
      await ok(['create', 'namespace', name]);
      const pairs = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
      if (pairs.length > 0) await ok(['label', 'namespace', name, ...pairs]);
      for (let attempt = 0; attempt < 300; attempt++) {
        if ((await run(['get', 'serviceaccount', 'default', '-n', name])).status === 0) return;
        await sleep(100);
      }
      throw new Error(`namespace ${name} got no default ServiceAccount: is kube-controller-manager running?`);
    },
    helm: (args) => runHelmAsync(args, { env: { KUBECONFIG: kubeconfig } }),
  };
}
