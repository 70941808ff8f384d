// Summarises a V8 .cpuprofile (from `node --cpu-prof`): where self time goes, by function and by module.
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Self time of one function or module, as a share of all samples. */
export interface Share {
  readonly name: string;
  readonly ms: number;
  readonly percent: number;
}

/** Self time grouped two ways, plus inclusive time of the modules that matter for the hot path. */
export interface ProfileSummary {
  readonly totalMs: number;
  /** Idle and garbage collection, as V8 labels them. */
  readonly idlePercent: number;
  readonly gcPercent: number;
  readonly topFunctions: readonly Share[];
  readonly byModule: readonly Share[];
  /** Time spent in a frame of each module or below it (self + callees), once per sample. */
  readonly inclusive: readonly Share[];
}

/** Reads `file` and summarises it; `top` limits the function list. */
export async function summariseProfile(file: string, top = 25): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const selfUs = new Map<number, number>();
  let totalUs = 0;
  for (const [i, id] of profile.samples.entries()) {
    const delta = profile.timeDeltas[i] ?? 0;
    totalUs += delta;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }

  const functions = new Map<string, number>();
  const modules = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let idle = 0;
  let gc = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const frame = node.callFrame;
    if (frame.functionName === '(idle)') idle += us;
    if (frame.functionName === '(garbage collector)') gc += us;
    const module = moduleOf(frame.url, frame.functionName);
    const name = `${frame.functionName || '(anonymous)'} ${module}:${String(frame.lineNumber + 1)}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    modules.set(module, (modules.get(module) ?? 0) + us);
    // Walk to the root once, counting each module on the stack at most once for this sample's time.
    const seen = new Set<string>();
    for (let at: number | undefined = id, depth = 0; at !== undefined && depth < 10_000; at = parent.get(at), depth++) {
      const frameAt = byId.get(at)?.callFrame;
      if (frameAt === undefined) break;
      const owner = moduleOf(frameAt.url, frameAt.functionName);
      if (!seen.has(owner)) {
        seen.add(owner);
        inclusive.set(owner, (inclusive.get(owner) ?? 0) + us);
      }
    }
  }
  const busy = totalUs - idle;
  const shares = (map: ReadonlyMap<string, number>, limit: number, base: number): Share[] =>
    [...map]
      .filter(([name]) => name !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, us]) => ({ name, ms: Math.round(us / 100) / 10, percent: Math.round((us / base) * 1000) / 10 }));
  return {
    totalMs: Math.round(totalUs / 1000),
    idlePercent: Math.round((idle / totalUs) * 1000) / 10,
    gcPercent: Math.round((gc / busy) * 1000) / 10,
    topFunctions: shares(functions, top, busy),
    byModule: shares(modules, 30, busy),
    inclusive: shares(inclusive, 30, busy),
  };
}

/** A short owner for a frame: `src/admission`, `express`, `node:internal`, or a V8 label like `(garbage collector)`. */
function moduleOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (packageMatch !== null) return packageMatch[1] ?? url;
  const source = /\/(src|bench|test)\/([^/]+)/.exec(url);
  if (source !== null) return `${source[1] ?? ''}/${(source[2] ?? '').replace(/\.ts$/, '')}`;
  if (url.startsWith('node:')) return url.startsWith('node:internal') ? `node:internal/${url.split('/')[1] ?? ''}` : url;
  return url;
}
