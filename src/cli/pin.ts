// `tagpin pin`: pins every image in manifests, changing nothing but the image values.
import { rename, rm, stat, writeFile, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Config } from '../config/index.ts';
import { InputError } from '../errors/index.ts';
import { isNamespaceExcluded, planMutation } from '../policy/index.ts';
import { formatPinned } from '../reference/index.ts';
import type { ImageReference } from '../reference/index.ts';
import { workloadKinds } from '../workload/index.ts';
import { ExitCode, formatError } from './errors.ts';
import { describeObject, readInputs } from './inputs.ts';
import type { EditTarget, ImageChange } from './inputs.ts';
import type { CliIo } from './io.ts';
import { resourceListIn, runFunction } from './krm.ts';
import { lookupAll } from './lookup.ts';
import type { LookupContext } from './lookup.ts';
import { parseManifest } from './manifests.ts';
import { STDIN_NAME } from './sources.ts';

/** Options of `runPin`. */
export interface PinOptions {
  /** `-f` arguments: files, directories, `-`. */
  readonly files: readonly string[];
  /** `-w`: rewrite changed files in place (stdin still goes to stdout). */
  readonly write: boolean;
  /** `--allow-empty`: an argument without manifests is noted, not an error. */
  readonly allowEmpty: boolean;
  readonly config: Pick<Config, 'mutate' | 'exclude' | 'workloads'>;
}

/** An image field that needs a lookup, and where it is. */
interface PinTarget {
  readonly input: number;
  readonly target: EditTarget;
  readonly ref: ImageReference;
  /** `file:line`, for messages. */
  readonly location: string;
}

/**
 * Pins every image of the kinds in `mutate.kinds` (and of every Dockerfile stage and compose service)
 * that has no digest and is not excluded; each object or image skipped is noted on stderr.
 * All or nothing: when any image is invalid or cannot be resolved, each problem is reported and
 * nothing is written (exit 1), so a pipeline never picks up half-pinned manifests.
 * A ResourceList on stdin is a KRM function's input, answered as one (krm.ts).
 */
export async function runPin(options: PinOptions, context: LookupContext, io: CliIo): Promise<number> {
  let stdin: Promise<string> | undefined;
  const readStdin = (): Promise<string> => (stdin ??= io.readStdin());
  if (options.files.length === 1 && options.files[0] === '-') {
    const list = resourceListOnStdin(await readStdin());
    if (list !== undefined) return runFunction(list, options.config, context, io);
  }
  const { inputs, notes } = await readInputs(options.files, readStdin, options.allowEmpty, workloadKinds(options.config.workloads));
  const note = (text: string): void => {
    io.writeErr(`tagpin: note: ${text}\n`);
  };
  if (!options.write && inputs.length > 1) {
    const alone = inputs.find((input) => input.format !== 'kubernetes');
    if (alone !== undefined) {
      throw new InputError(
        `${alone.source.name} is a ${alone.format === 'dockerfile' ? 'Dockerfile' : 'compose file'}: without -w, pin prints its inputs as one Kubernetes YAML stream; use -w, or pin it on its own`,
        { where: alone.source.name },
      );
    }
  }
  for (const text of notes) note(text);

  const targets: PinTarget[] = [];
  const problems: string[] = [];
  const kinds = new Set<string>(options.config.mutate.kinds);
  for (const [i, input] of inputs.entries()) {
    for (const object of input.objects) {
      const where = `${input.source.name}:${String(object.line)} ${describeObject(object)}`;
      if (object.kubernetes && !kinds.has(object.kind)) {
        if (object.images.length > 0) note(`${where}: kind ${object.kind} is not in mutate.kinds; not pinned`);
        continue;
      }
      if (object.kubernetes && isNamespaceExcluded(object.namespace, options.config.exclude)) {
        note(`${where}: namespace ${object.namespace ?? ''} is excluded (exclude.namespaces); not pinned`);
        continue;
      }
      for (const [index, step] of planMutation(object.images, options.config).entries()) {
        const image = object.images[index];
        if (image === undefined) continue;
        const location = `${input.source.name}:${String(image.line)}`;
        if (step.action === 'invalid') problems.push(`${location}: ${image.path}: ${step.reason ?? 'invalid image'}`);
        else if (step.action === 'excluded') note(`${location}: ${step.ref?.original ?? ''} ${step.reason ?? 'is excluded'}; not pinned`);
        else if (step.action === 'resolve' && step.ref !== undefined) targets.push({ input: i, target: image.target, ref: step.ref, location });
      }
    }
  }

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

  const counts = inputs.map(() => 0);
  const outputs = inputs.map((input, i) => {
    const changes: ImageChange[] = [];
    for (const target of targets) {
      const answer = answers.get(target.ref.original);
      if (target.input !== i || answer === undefined || answer instanceof Error) continue;
      changes.push({ target: target.target, value: formatPinned(target.ref, answer.digest, options.config.mutate.output) });
    }
    counts[i] = changes.length;
    return changes.length === 0 ? input.source.text : input.withImages(changes);
  });

  if (options.write) {
    let written = 0;
    for (const [i, input] of inputs.entries()) {
      const text = outputs[i] ?? input.source.text;
      if (input.source.path === undefined) {
        io.writeOut(text);
      } else if (text !== input.source.text) {
        await writeInPlace(input.source.path, text);
        written++;
        const count = counts[i] ?? 0;
        io.writeErr(`tagpin: wrote ${input.source.path} (${String(count)} image${count === 1 ? '' : 's'} pinned)\n`);
      }
    }
    if (written === 0 && inputs.some((input) => input.source.path !== undefined)) note('no file changed: every image is pinned already or skipped');
  } else {
    io.writeOut(joinStreams(outputs));
  }
  return ExitCode.ok;
}

/** A ResourceList read from stdin; anything else (a Dockerfile, text that is not YAML) is left to readInputs. */
function resourceListOnStdin(text: string): ReturnType<typeof resourceListIn> {
  if (!text.includes('ResourceList')) return undefined;
  try {
    return resourceListIn([parseManifest({ name: STDIN_NAME, path: undefined, text })]);
  } catch {
    return undefined;
  }
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
