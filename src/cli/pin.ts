// `tagpin pin`: pins every image in manifests, changing nothing but the image values.
import { rename, rm, stat, writeFile, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Config } from '../config/index.ts';
import { InputError } from '../errors/index.ts';
import { ExitCode, formatError } from './errors.ts';
import type { CliIo } from './io.ts';
import { resourceListIn, runFunction } from './krm.ts';
import { lookupAll } from './lookup.ts';
import type { LookupContext } from './lookup.ts';
import { parseManifest } from './manifests.ts';
import { planPins, pinnedTexts } from './pin-plan.ts';
import { readSources } from './sources.ts';

/** Options of `runPin`. */
export interface PinOptions {
  /** `-f` arguments: files, directories, `-`. */
  readonly files: readonly string[];
  /** `-w`: rewrite changed files in place (stdin still goes to stdout). */
  readonly write: boolean;
  readonly config: Pick<Config, 'mutate' | 'exclude'>;
}

/**
 * Pins every image of the kinds in `mutate.kinds` that has no digest and is not excluded.
 * All or nothing: when any image is invalid or cannot be resolved, each problem is reported and
 * nothing is written (exit 1), so a pipeline never picks up half-pinned manifests.
 * A ResourceList on stdin is a KRM function's input, answered as one (krm.ts).
 */
export async function runPin(options: PinOptions, context: LookupContext, io: CliIo): Promise<number> {
  const sources = await readSources(options.files, () => io.readStdin());
  const manifests = sources.map((source) => parseManifest(source));
  const list = resourceListIn(manifests);
  if (list !== undefined) return runFunction(list, options.config, context, io);

  const { targets, invalid } = planPins(manifests, options.config);
  const problems = invalid.map((image) => `${image.location}: ${image.pointer}: ${image.reason}`);
  const answers = await lookupAll(context, targets.map((target) => target.ref));
  const failed = new Set<string>();
  for (const target of targets) {
    const answer = answers.get(target.ref.original);
    if (answer instanceof Error && !failed.has(target.ref.original)) {
      failed.add(target.ref.original);
      problems.push(`${formatError(answer)} (${target.location})`);
    }
  }
  if (problems.length > 0) {
    for (const problem of problems) io.writeErr(`tagpin: ${problem}\n`);
    return ExitCode.failed;
  }

  const outputs = pinnedTexts(manifests, targets, answers, options.config);
  if (options.write) {
    for (const [m, manifest] of manifests.entries()) {
      const text = outputs[m] ?? manifest.source.text;
      if (manifest.source.path === undefined) io.writeOut(text);
      else if (text !== manifest.source.text) await writeInPlace(manifest.source.path, text);
    }
  } else {
    io.writeOut(joinStreams(outputs));
  }
  return ExitCode.ok;
}

/** Several inputs printed as one YAML stream: a `---` between them unless the next one starts with its own. */
function joinStreams(texts: readonly string[]): string {
  let out = '';
  for (const text of texts) {
    if (out !== '') {
      if (!out.endsWith('\n')) out += '\n';
      if (!/^---(\s|$)/.test(text)) out += '---\n';
    }
    out += text;
  }
  return out;
}

/** Replaces the file atomically (temporary file + rename), keeping its mode and following symlinks. */
async function writeInPlace(path: string, text: string): Promise<void> {
  let target = path;
  let temporary: string | undefined;
  try {
    target = await realpath(path);
    const { mode } = await stat(target);
    temporary = join(dirname(target), `.${basename(target)}.tagpin-${String(process.pid)}.tmp`);
    await writeFile(temporary, text, { mode: mode & 0o7777, flag: 'wx' });
    await rename(temporary, target);
  } catch (err) {
    if (temporary !== undefined) await rm(temporary, { force: true });
    const reason = (err as { code?: unknown }).code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new InputError(`cannot write ${path}: ${reason}`, { where: path, cause: err });
  }
}
