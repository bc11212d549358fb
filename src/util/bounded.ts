/**
 * Waiting for something that may never settle (a Redis command while Redis is away), but only so
 * long.
 *
 * @module
 */

/**
 * Waits for `promise` at most `ms`; true if it settled (either way) in time. The promise is left
 * running: the caller only stops waiting for it.
 *
 * @param promise - What to wait for; undefined counts as settled.
 * @param ms - The longest wait, in milliseconds.
 * @returns Whether `promise` settled within `ms`.
 */
export async function bounded(promise: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (promise === undefined) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
