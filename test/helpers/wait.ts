/** Polling for tests (no timing assertions: a deadline only bounds how long a test waits). */

/**
 * Calls `check` every `intervalMs` until it returns a truthy value, which is returned; throws
 * `timed out after <timeoutMs> ms waiting for <what>` once `timeoutMs` has passed. An exception
 * from `check` propagates at once. Not a timing assertion: the deadline only bounds how long a
 * test waits for something that must happen.
 */
export async function waitUntil<T>(
  what: string,
  check: () => T | null | undefined | false,
  timeoutMs = 40_000,
  intervalMs = 100,
): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(intervalMs);
  }
}
