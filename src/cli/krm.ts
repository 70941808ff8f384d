// `tagpin pin` as a KRM function: a ResourceList on stdin comes back pinned, or unchanged with results naming each failure.
import { isDeepStrictEqual } from 'node:util';
import { isMap, parseDocument, stringify } from 'yaml';
import type { Config } from '../config/index.ts';
import { isRecord } from '../json/index.ts';
import { parsePlatform } from '../reference/index.ts';
import type { Platform } from '../reference/index.ts';
import { ExitCode, formatError } from './errors.ts';
import type { CliIo } from './io.ts';
import { lookupAll } from './lookup.ts';
import type { LookupContext } from './lookup.ts';
import { pointerSegments } from './manifests.ts';
import type { ManifestObject, ParsedManifest } from './manifests.ts';
import { planPins, pinnedTexts } from './pin-plan.ts';
import type { ImageField } from './pin-plan.ts';

/** The group of the ResourceList kind (kustomize and kpt send `config.kubernetes.io/v1`). */
const RESOURCE_LIST_GROUP = 'config.kubernetes.io/';

/** Where kustomize and kpt say an item came from (the internal form first, as kyaml writes both). */
const PATH_ANNOTATIONS = ['internal.config.kubernetes.io/path', 'config.kubernetes.io/path'] as const;
const INDEX_ANNOTATIONS = ['internal.config.kubernetes.io/index', 'config.kubernetes.io/index'] as const;

/** The `data` keys a ConfigMap functionConfig may set. */
const FUNCTION_SETTINGS = ['platform'] as const;

/** One entry of a ResourceList's `results` (KRM functions specification). */
export interface FunctionResult {
  readonly message: string;
  readonly severity: 'error' | 'warning' | 'info';
  readonly resourceRef?: { readonly apiVersion: string; readonly kind: string; readonly name: string; readonly namespace?: string };
  readonly field?: { readonly path: string };
  readonly file?: { readonly path: string; readonly index?: number };
}

/** The only input when it is a ResourceList read from stdin (one document), else undefined. */
export function resourceListIn(manifests: readonly ParsedManifest[]): ParsedManifest | undefined {
  const [only, ...others] = manifests;
  if (only === undefined || others.length > 0 || only.source.path !== undefined) return undefined;
  const documents = only.documents.filter((document) => document.data != null);
  const [list, ...more] = documents;
  if (list === undefined || more.length > 0 || !isRecord(list.data)) return undefined;
  const { kind, apiVersion } = list.data;
  return kind === 'ResourceList' && typeof apiVersion === 'string' && apiVersion.startsWith(RESOURCE_LIST_GROUP) ? only : undefined;
}

/**
 * Pins the items of the ResourceList `manifest` and writes it to stdout. All or nothing, as `pin` is:
 * when any image is invalid or cannot be resolved, the items are written unchanged with one `results`
 * entry of severity error per field (and one stderr line each), and the exit code is 1.
 */
export async function runFunction(
  manifest: ParsedManifest,
  config: Pick<Config, 'mutate' | 'exclude' | 'workloads'>,
  context: LookupContext,
  io: CliIo,
): Promise<number> {
  const document = manifest.documents.find((d) => d.data != null);
  const settings = functionSettings(isRecord(document?.data) ? document.data['functionConfig'] : undefined);
  if (typeof settings === 'string') return fail(manifest, [{ message: settings, severity: 'error' }], io);

  const { targets, invalid } = planPins([manifest], config);
  const platform = settings.platform ?? context.platform;
  const answers = await lookupAll({ ...context, platform }, targets.map((target) => target.ref));
  const results: FunctionResult[] = invalid.map((image) => resultFor(image, `${fieldPath(image.fieldPath)}: ${image.reason}`));
  for (const target of targets) {
    const answer = answers.get(target.ref.original);
    if (answer instanceof Error) results.push(resultFor(target, formatError(answer)));
  }
  if (results.length > 0) return fail(manifest, results, io);
  io.writeOut(pinnedTexts([manifest], targets, answers, config)[0] ?? manifest.source.text);
  return ExitCode.ok;
}

/** Writes the ResourceList unchanged but for `results`, each result also on stderr. */
function fail(manifest: ParsedManifest, results: readonly FunctionResult[], io: CliIo): number {
  for (const result of results) {
    const where = result.file === undefined ? '' : ` (${result.file.path})`;
    io.writeErr(`tagpin: ${result.message}${where}\n`);
  }
  io.writeOut(withResults(manifest, results));
  return ExitCode.failed;
}

/** What a ConfigMap functionConfig's `data` sets, or the message naming the key that is wrong. */
function functionSettings(functionConfig: unknown): { readonly platform?: Platform } | string {
  // Any other kind only carries the function annotation for kustomize; there is nothing in it for tagpin.
  if (!isRecord(functionConfig) || functionConfig['kind'] !== 'ConfigMap') return {};
  const data = functionConfig['data'];
  if (data === undefined || data === null) return {};
  if (!isRecord(data)) return 'functionConfig data must be a map of strings';
  let platform: Platform | undefined;
  for (const [key, value] of Object.entries(data)) {
    if (key !== 'platform') return `functionConfig data.${key} is not a tagpin setting (known: ${FUNCTION_SETTINGS.join(', ')})`;
    try {
      platform = parsePlatform(String(value));
    } catch (err) {
      return `functionConfig data.platform: ${(err as Error).message}`;
    }
  }
  return platform === undefined ? {} : { platform };
}

/** A result about one image field, naming its resource, field and file as the item's annotations tell. */
function resultFor(field: ImageField, message: string): FunctionResult {
  const ref = resourceRefOf(field.object);
  const file = fileOf(field.object);
  return {
    message,
    severity: 'error',
    ...(ref === undefined ? {} : { resourceRef: ref }),
    field: { path: fieldPath(field.fieldPath) },
    ...(file === undefined ? {} : { file }),
  };
}

function resourceRefOf(object: ManifestObject): FunctionResult['resourceRef'] {
  const data = isRecord(object.object) ? object.object : {};
  const apiVersion = typeof data['apiVersion'] === 'string' ? data['apiVersion'] : '';
  if (object.name === undefined) return undefined;
  return { apiVersion, kind: object.kind, name: object.name, ...(object.namespace === undefined ? {} : { namespace: object.namespace }) };
}

function fileOf(object: ManifestObject): FunctionResult['file'] {
  const annotations = annotationsOf(object);
  const path = PATH_ANNOTATIONS.map((key) => annotations[key]).find((value) => typeof value === 'string');
  if (typeof path !== 'string') return undefined;
  const index = Number(INDEX_ANNOTATIONS.map((key) => annotations[key]).find((value) => typeof value === 'string'));
  return Number.isInteger(index) ? { path, index } : { path };
}

function annotationsOf(object: ManifestObject): Record<string, unknown> {
  const metadata = isRecord(object.object) ? object.object['metadata'] : undefined;
  const annotations = isRecord(metadata) ? metadata['annotations'] : undefined;
  return isRecord(annotations) ? annotations : {};
}

/** `/spec/containers/0/image` as the specification writes field paths: `spec.containers[0].image`. */
export function fieldPath(pointer: string): string {
  let path = '';
  for (const segment of pointerSegments(pointer)) {
    if (/^(0|[1-9][0-9]*)$/.test(segment)) path += `[${segment}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(segment)) path += path === '' ? segment : `.${segment}`;
    else path += `[${JSON.stringify(segment)}]`;
  }
  return path;
}

/**
 * The ResourceList's text with `results` added. The entries are appended as text when the list is a
 * block mapping without results yet, so nothing else changes; otherwise (results from an earlier
 * function, flow style) the document is edited and written again.
 */
function withResults(manifest: ParsedManifest, results: readonly FunctionResult[]): string {
  const text = manifest.source.text;
  const parsed = manifest.documents.find((d) => d.data != null);
  if (parsed === undefined || !isRecord(parsed.data)) return text;
  if (!('results' in parsed.data) && isMap(parsed.document.contents) && parsed.document.contents.flow !== true) {
    const appended = `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}${stringify({ results })}`;
    const check = parseDocument(appended, { merge: true }).toJS() as unknown;
    if (isDeepStrictEqual(check, { ...parsed.data, results })) return appended;
  }
  const edited = parsed.document.clone();
  const earlier = Array.isArray(parsed.data['results']) ? (parsed.data['results'] as unknown[]) : [];
  edited.set('results', edited.createNode([...earlier, ...results]));
  return edited.toString();
}
