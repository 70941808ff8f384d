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

/** An abort signal for `deadline` (epoch ms) and `signal`, whichever comes first. */
export function deadlineSignal(deadline: number, signal?: AbortSignal): AbortSignal {
  const timer = AbortSignal.timeout(Math.max(0, Math.floor(deadline - Date.now())));
  return signal === undefined ? timer : AbortSignal.any([timer, signal]);
}

/**
 * Settles with `promise`, or rejects with `onAbort()` once `signal` aborts, whichever comes first.
 * The promise keeps running; the caller decides what leaving means.
 */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal, onAbort: () => Error): Promise<T> {
  if (signal.aborted) return Promise.reject(onAbort());
  return new Promise<T>((resolve, reject) => {
    const abort = (): void => {
      reject(onAbort());
    };
    signal.addEventListener('abort', abort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', abort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
