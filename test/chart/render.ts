// Renders charts/tagpin with the real helm binary and parses the output into objects.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { removeOnExit } from '../support/exit-cleanup.ts';
import { runHelm, runHelmAsync } from '../support/helm.ts';
import type { HelmResult } from '../support/helm.ts';

/** A rendered Kubernetes object, loosely typed: tests narrow what they read. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly [field: string]: unknown;
}

/** One object with the chart template it came from (`tagpin/templates/…`). */
export interface Rendered {
  readonly source: string;
  readonly object: KubeObject;
}

/**
 * What to render: values (written to a values file, as users do) and release coordinates.
 * `image.repository` is TEST_IMAGE_REPOSITORY unless `values` say otherwise: the chart has no default.
 */
export interface RenderOptions {
  readonly values?: Readonly<Record<string, unknown>>;
  readonly release?: string;
  readonly namespace?: string;
  /** Extra helm arguments, e.g. `--skip-tests` or `--dry-run=server`. */
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

export const CHART = 'charts/tagpin';

/** The image the chart tests install: `.example` is reserved, so it can never be pulled by mistake. */
export const TEST_IMAGE_REPOSITORY = 'registry.example/tagpin';

let valuesDir: string | undefined;
let valuesCount = 0;

/** Writes `values` to a fresh file and returns `['-f', file]`, or nothing for no values. */
export function valuesArgs(values: Readonly<Record<string, unknown>> | undefined): string[] {
  if (values === undefined) return [];
  if (valuesDir === undefined) {
    valuesDir = mkdtempSync(join(tmpdir(), 'tagpin-chart-values-'));
    removeOnExit(valuesDir);
  }
  valuesCount += 1;
  const file = join(valuesDir, `values-${String(valuesCount)}.yaml`);
  // YAML 1.1 quoting, because helm reads values as YAML 1.1 (an unquoted `on` is a boolean there).
  writeFileSync(file, stringify(values, { version: '1.1' }));
  return ['-f', file];
}

let imageArgs: string[] | undefined;

function templateArgs(options: RenderOptions): string[] {
  // First, so a later values file can override it, as a user's own -f would.
  imageArgs ??= valuesArgs({ image: { repository: TEST_IMAGE_REPOSITORY } });
  return [
    'template',
    options.release ?? 'tagpin',
    CHART,
    '--namespace',
    options.namespace ?? 'tagpin',
    ...imageArgs,
    ...valuesArgs(options.values),
    ...(options.args ?? []),
  ];
}

/** Runs `helm template` and returns the raw result, for tests that expect a failure. */
export function helmTemplate(options: RenderOptions = {}): HelmResult {
  return runHelm(templateArgs(options), options.env === undefined ? {} : { env: options.env });
}

/** Runs `helm template` and parses every document; a failed render throws with helm's message. */
export function renderChart(options: RenderOptions = {}): Rendered[] {
  return parsed(helmTemplate(options));
}

/** `renderChart` without blocking the event loop, for renders against a fake API in this process. */
export async function renderChartAsync(options: RenderOptions = {}): Promise<Rendered[]> {
  return parsed(await runHelmAsync(templateArgs(options), options.env === undefined ? {} : { env: options.env }));
}

function parsed(result: HelmResult): Rendered[] {
  if (result.status !== 0) throw new Error(`helm template failed: ${result.stderr.trim()}`);
  return parseManifests(result.stdout);
}

/**
 * Splits helm output into documents and parses each with YAML 1.1, as the API server's decoder
 * does (so `on`, `0440` and friends mean there what they mean here).
 */
export function parseManifests(text: string): Rendered[] {
  const rendered: Rendered[] = [];
  for (const chunk of text.split(/^---\s*$/m)) {
    const source = /^# Source: (.+)$/m.exec(chunk)?.[1] ?? '';
    const object: unknown = parse(chunk, { version: '1.1' });
    if (object === null || object === undefined) continue;
    rendered.push({ source, object: object as KubeObject });
  }
  return rendered;
}

/** The only object of `kind` (and `name`, when given); throws when there are none or several. */
export function only(rendered: readonly Rendered[], kind: string, name?: string): KubeObject {
  const matches = rendered.filter((r) => r.object.kind === kind && (name === undefined || r.object.metadata.name === name));
  if (matches.length !== 1) {
    throw new Error(`expected one ${kind}${name === undefined ? '' : ` named ${name}`}, found ${String(matches.length)}`);
  }
  return (matches[0] as Rendered).object;
}

/** Every object of `kind`. */
export function all(rendered: readonly Rendered[], kind: string): KubeObject[] {
  return rendered.filter((r) => r.object.kind === kind).map((r) => r.object);
}

/** Reads a nested field by path segments; undefined when any step is missing. */
export function field(value: unknown, ...path: readonly (string | number)[]): unknown {
  let current: unknown = value;
  for (const step of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[step];
  }
  return current;
}
