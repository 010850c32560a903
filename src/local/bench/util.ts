/**
 * Small async helpers shared by the bench: sleeping, bounded concurrency, polling with a
 * deadline, and "rendezvous" waiters for events that may arrive before or after someone asks.
 */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Monotonic milliseconds; every latency in the bench is a difference of two of these. */
export const now = () => performance.now();

/** Waits until `ms` have passed since `since` (a Date.now() time), calling `show` with the elapsed ms every 250 ms. */
export async function waitShowing(since: number, ms: number, show: (elapsedMs: number) => void): Promise<void> {
  for (let elapsed = Date.now() - since; elapsed < ms; elapsed = Date.now() - since) {
    show(elapsed);
    await sleep(Math.min(250, ms - elapsed));
  }
}

/**
 * Runs `task(i)` for i in [0, count) with at most `limit` in flight. Errors are collected, not
 * thrown, so one failed request does not abandon a throughput run half way.
 */
export async function runBounded(count: number, limit: number, task: (i: number) => Promise<void>): Promise<unknown[]> {
  let next = 0;
  const errors: unknown[] = [];
  const lane = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      try {
        await task(i);
      } catch (err) {
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
  return errors;
}

/** Polls `check` every `intervalMs` until it returns true; throws after `timeoutMs`. */
export async function pollUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/**
 * Polls a counter until it reaches `target`. Fails when it has not moved for `stallMs` (the
 * system under test is stuck, e.g. its database queries fail), rather than after a long timeout.
 */
export async function pollProgress(what: string, read: () => Promise<number> | number, target: number, stallMs: number, intervalMs = 100): Promise<void> {
  let last = -1;
  let movedAt = Date.now();
  for (;;) {
    const value = await read();
    if (value >= target) return;
    if (value !== last) {
      last = value;
      movedAt = Date.now();
    } else if (Date.now() - movedAt > stallMs) {
      throw new Error(`stalled at ${value}/${target} ${what} (no progress for ${stallMs / 1000} s)`);
    }
    await sleep(intervalMs);
  }
}

/**
 * Keyed rendezvous: `arrive(key, value)` and `wait(key)` may happen in either order. Agents can
 * receive a command frame before the HTTP response naming it has been read, so a waiter that
 * only listened after the response would miss it.
 */
export class Rendezvous<K, V> {
  readonly #arrived = new Map<K, V>();
  readonly #waiting = new Map<K, (value: V) => void>();

  arrive(key: K, value: V): void {
    const resolve = this.#waiting.get(key);
    if (resolve) {
      this.#waiting.delete(key);
      resolve(value);
    } else {
      this.#arrived.set(key, value);
    }
  }

  wait(key: K, timeoutMs: number): Promise<V> {
    const value = this.#arrived.get(key);
    if (value !== undefined) {
      this.#arrived.delete(key);
      return Promise.resolve(value);
    }
    return new Promise<V>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(key);
        reject(new Error(`no event for ${String(key)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(key, (v) => {
        clearTimeout(timer);
        resolve(v);
      });
    });
  }

  clear(): void {
    this.#arrived.clear();
  }
}
