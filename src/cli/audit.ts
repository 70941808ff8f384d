// `tagpin audit`: the state of every image that runs in the cluster, as text or JSON.
import { FAILING_STATES, ImageState, takeInventory } from '../inventory/index.ts';
import type { InventoryImage, InventoryOptions } from '../inventory/index.ts';
import type { OutputMode } from './args.ts';
import { ExitCode } from './errors.ts';
import type { CliIo } from './io.ts';

/** Options of `runAudit`: the inventory's adapters and where to look, and the output form. */
export interface AuditOptions extends InventoryOptions {
  readonly output: OutputMode;
}

const STATES = Object.values(ImageState);

/**
 * Prints one line (or JSON record) per image field of every workload, and a summary. Exit 1 when an
 * image that is not excluded is drifted, unpinned, missing or a violation; `failed` images are
 * reported on stderr too but do not change the exit code.
 */
export async function runAudit(options: AuditOptions, io: CliIo): Promise<number> {
  const inventory = await takeInventory(options);
  for (const warning of inventory.warnings) io.writeErr(`tagpin: warning: ${warning}\n`);
  if (options.output === 'json') {
    io.writeOut(`${JSON.stringify(inventory.images, null, 2)}\n`);
  } else {
    for (const image of inventory.images) io.writeOut(`${textLine(image)}\n`);
    io.writeOut(`${summary(inventory.images, inventory.workloads)}\n`);
  }
  const failed = inventory.images.filter((image) => image.state === ImageState.failed).length;
  if (failed > 0) io.writeErr(`tagpin: ${plural(failed, 'image')} could not be checked (state failed; see the reason on each line)\n`);
  return inventory.images.some((image) => image.excluded === null && FAILING_STATES.has(image.state)) ? ExitCode.failed : ExitCode.ok;
}

/** `NAMESPACE KIND/NAME PATH IMAGE STATE [REASON] [(excluded: WHY)]`. */
function textLine(image: InventoryImage): string {
  const shown = image.image ?? '(not a string)';
  const reason = image.reason === null ? '' : ` ${image.reason}`;
  const excluded = image.excluded === null ? '' : ` (excluded: ${image.excluded})`;
  return `${image.namespace} ${image.kind}/${image.name} ${image.path} ${shown} ${image.state}${reason}${excluded}`;
}

function summary(images: readonly InventoryImage[], workloads: number): string {
  const counts = STATES.map((state) => `${String(images.filter((image) => image.state === state).length)} ${state}`);
  return `${plural(images.length, 'image')} in ${plural(workloads, 'workload')}: ${counts.join(', ')}`;
}

function plural(n: number, word: string): string {
  return `${String(n)} ${word}${n === 1 ? '' : 's'}`;
}
