// Racing work against a deadline, so an answer leaves in time whatever an adapter does.

/** Resolves with `work`'s value, or with `fallback()` once `deadline` (epoch ms) passes. */
export async function beforeDeadline<T>(work: Promise<T>, deadline: number, fallback: () => T, now: () => number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<T>((resolve) => {
    timer = setTimeout(() => {
      resolve(fallback());
    }, Math.max(0, deadline - now()));
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
