// Where the repository and the tagpin entry point are, for tests that start tagpin as a process.
import { join, resolve } from 'node:path';

/** The repository root. */
export const repoRoot = resolve(import.meta.dirname, '..', '..');
/** The CLI entry, run by the Node that runs the tests (24). */
export const mainScript = join(repoRoot, 'src', 'main.ts');
