// The one deadline helper: racing work against an absolute deadline (epoch ms) or an abort signal.

/** Resolves with `work`'s value, or with `fallback()` once `deadline` (epoch ms) passes. */
export async function beforeDeadline<T>(work: Promise<T>, deadline: number, fallback: () => T, now: () => number = Date.now): Promise<T> {
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

/**
 * Settles with `promise`, or rejects with `onAbort()` once `deadline` (epoch ms) passes or `signal`
 * aborts, whichever comes first. Its timer and listener go as soon as it settles, so a lookup leaves
 * nothing behind: an AbortSignal.timeout would keep its timer, and AbortSignal.any its links, for the
 * whole budget (thousands of them while a cache fills). An infinite deadline sets no timer.
 */
export function raceDeadline<T>(promise: Promise<T>, deadline: number, signal: AbortSignal | undefined, onAbort: () => Error): Promise<T> {
  if (signal?.aborted === true || deadline <= Date.now()) return Promise.reject(onAbort());
  return new Promise<T>((resolve, reject) => {
    const stop = (): void => {
      settle();
      reject(onAbort());
    };
    const timer = Number.isFinite(deadline) ? setTimeout(stop, deadline - Date.now()).unref() : undefined;
    signal?.addEventListener('abort', stop, { once: true });
    function settle(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
    }
    promise.then(
      (value) => {
        settle();
        resolve(value);
      },
      (error: unknown) => {
        settle();
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/**
 * Settles with `promise`, or rejects with `onAbort()` once `signal` aborts, whichever comes first.
 * The promise keeps running; the caller decides what leaving means.
 */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal, onAbort: () => Error): Promise<T> {
  return raceDeadline(promise, Number.POSITIVE_INFINITY, signal, onAbort);
}
