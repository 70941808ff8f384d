// The runtime settings the chart gives the container: Node's heap flags and glibc's malloc arenas, then extraEnv.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { repoRoot } from '../support/paths.ts';
import { field, only, renderChart } from './render.ts';

const values = parse(readFileSync(join(repoRoot, 'charts', 'tagpin', 'values.yaml'), 'utf8')) as {
  nodeOptions: string;
  mallocArenaMax: number;
  mallocTrimThreshold: number;
  mallocMmapThreshold: number;
};

function envOf(options: Parameters<typeof renderChart>[0] = {}): ReadonlyArray<{ readonly name: string; readonly value?: string }> {
  const deployment = only(renderChart(options), 'Deployment');
  const containers = field(deployment, 'spec', 'template', 'spec', 'containers') as ReadonlyArray<{
    readonly name: string;
    readonly env?: ReadonlyArray<{ readonly name: string; readonly value?: string }>;
  }>;
  return containers.find((c) => c.name === 'tagpin')?.env ?? [];
}

describe('runtime settings of the tagpin container', () => {
  it('caps the heap with NODE_OPTIONS and sets the malloc arenas and thresholds by default, the settings bench/memory.ts measures', () => {
    assert.match(values.nodeOptions, /--max-old-space-size=\d+/);
    assert.deepEqual(envOf(), [
      { name: 'NODE_OPTIONS', value: values.nodeOptions },
      { name: 'MALLOC_ARENA_MAX', value: String(values.mallocArenaMax) },
      { name: 'MALLOC_TRIM_THRESHOLD_', value: String(values.mallocTrimThreshold) },
      { name: 'MALLOC_MMAP_THRESHOLD_', value: String(values.mallocMmapThreshold) },
    ]);
  });

  it("leaves Node's and glibc's defaults when all are emptied, and keeps extraEnv after them", () => {
    const extraEnv = [{ name: 'TZ', value: 'UTC' }];
    assert.deepEqual(envOf({ values: { nodeOptions: '', mallocArenaMax: 0, mallocTrimThreshold: 0, mallocMmapThreshold: 0, extraEnv } }), extraEnv);
    assert.deepEqual(envOf({ values: { extraEnv } }).at(-1), extraEnv[0]);
  });

  it('refuses malloc settings that are not whole numbers of zero or more', () => {
    assert.throws(() => renderChart({ values: { mallocArenaMax: 'two' } }), /mallocArenaMax/);
    assert.throws(() => renderChart({ values: { mallocTrimThreshold: -1 } }), /mallocTrimThreshold/);
  });
});
