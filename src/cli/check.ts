// `tagpin check`: the policy verdict of every image in manifests, without contacting any registry.
import type { Config } from '../config/index.ts';
import { isNamespaceExcluded, validateImage } from '../policy/index.ts';
import type { ImageVerdict, Verdict } from '../policy/index.ts';
import { parseReference } from '../reference/index.ts';
import type { OutputMode } from './args.ts';
import { workloadKinds } from '../workload/index.ts';
import { ExitCode } from './errors.ts';
import { describeObject, readInputs } from './inputs.ts';
import type { CliIo } from './io.ts';

/** One finding of `check -o json` (docs/contract.md, "Command line"); absent parts are null. */
export interface CheckRecord {
  readonly file: string;
  /** 1-based line of the image value. */
  readonly line: number;
  /** The object's kind; `stage` in a Dockerfile, `service` in a compose file. */
  readonly kind: string;
  readonly namespace: string | null;
  readonly name: string | null;
  /** JSON Pointer of the image field in its document (List items start with `/items/N`); `FROM` or `COPY` in a Dockerfile. */
  readonly path: string;
  /** The image as written; null when the field is not a string. */
  readonly image: string | null;
  readonly registry: string | null;
  readonly repository: string | null;
  readonly tag: string | null;
  readonly digest: string | null;
  readonly verdict: Verdict;
  readonly reason: string | null;
}

/** Options of `runCheck`. */
export interface CheckOptions {
  readonly files: readonly string[];
  readonly output: OutputMode;
  /** `--allow-empty`: an argument without manifests is noted, not an error. */
  readonly allowEmpty: boolean;
  readonly config: Pick<Config, 'validate' | 'exclude' | 'workloads'>;
}

/**
 * Reports a verdict per image. Exit 1 when an image is a violation or invalid and
 * `validate.action` is `deny`; `warn` and `audit` report the same verdicts but exit 0.
 */
export async function runCheck(options: CheckOptions, io: CliIo): Promise<number> {
  const { inputs, notes } = await readInputs(options.files, () => io.readStdin(), options.allowEmpty, workloadKinds(options.config.workloads));
  for (const note of notes) io.writeErr(`tagpin: note: ${note}\n`);
  const records: CheckRecord[] = [];
  /** Text output shows a non-string image as written (`42`), where JSON has null. */
  const shown: string[] = [];
  for (const input of inputs) {
    for (const object of input.objects) {
      const namespaceExcluded = object.kubernetes && isNamespaceExcluded(object.namespace, options.config.exclude);
      for (const field of object.images) {
        const verdict = namespaceExcluded ? excludedByNamespace(field.value, object.namespace ?? '') : validateImage(field.value, options.config);
        shown.push(typeof field.value === 'string' ? field.value : String(JSON.stringify(field.value)));
        records.push({
          file: input.source.name,
          line: field.line,
          kind: object.kind,
          namespace: object.namespace ?? null,
          name: object.name ?? null,
          path: field.path,
          image: typeof field.value === 'string' ? field.value : null,
          registry: verdict.ref?.registry ?? null,
          repository: verdict.ref?.repository ?? null,
          tag: verdict.ref?.tag ?? null,
          digest: verdict.ref?.digest ?? null,
          verdict: verdict.verdict,
          reason: verdict.reason ?? null,
        });
      }
    }
  }

  const failing = records.filter((record) => record.verdict === 'violation' || record.verdict === 'invalid').length;
  const enforcing = options.config.validate.action === 'deny';
  if (options.output === 'json') {
    io.writeOut(`${JSON.stringify(records, null, 2)}\n`);
  } else {
    for (const [index, record] of records.entries()) io.writeOut(`${textLine(record, shown[index] ?? '')}\n`);
    io.writeOut(`${summary(records, inputs.length)}${failing > 0 && !enforcing ? ` (validate.action is ${options.config.validate.action}: not failing)` : ''}\n`);
  }
  return failing > 0 && enforcing ? ExitCode.failed : ExitCode.ok;
}

/** Excluded objects still show what their images are, when the value parses. */
function excludedByNamespace(value: unknown, namespace: string): ImageVerdict {
  const verdict: ImageVerdict = { verdict: 'excluded', reason: `namespace ${namespace} is excluded` };
  if (typeof value !== 'string') return verdict;
  try {
    return { ...verdict, ref: parseReference(value) };
  } catch {
    return verdict;
  }
}

function textLine(record: CheckRecord, image: string): string {
  const object = describeObject({ kind: record.kind, name: record.name ?? undefined });
  return `${record.file}:${String(record.line)} ${object} ${record.path} ${image} ${record.verdict}${record.reason === null ? '' : ` ${record.reason}`}`;
}

function summary(records: readonly CheckRecord[], files: number): string {
  const count = (verdict: Verdict): number => records.filter((record) => record.verdict === verdict).length;
  const plural = (n: number, word: string): string => `${String(n)} ${word}${n === 1 ? '' : 's'}`;
  return (
    `${plural(records.length, 'image')} in ${plural(files, 'file')}: ${String(count('ok'))} ok, ` +
    `${plural(count('violation'), 'violation')}, ${String(count('invalid'))} invalid, ${String(count('excluded'))} excluded`
  );
}
