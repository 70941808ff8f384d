// Bounded parallelism: run a task per item with at most N in flight, in item order as slots free up.

/**
 * Runs `task` for every item with at most `limit` running at once (at least one); resolves when all
 * have settled. A task that rejects rejects the whole run once the others in flight have finished.
 */
export async function forEachBounded<T>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await task(items[index] as T, index);
    }
  };
  const workers = Math.max(1, Math.min(Number.isFinite(limit) ? Math.floor(limit) : items.length, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
}
