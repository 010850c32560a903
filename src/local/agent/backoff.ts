/**
 * Reconnect delays: exponential growth with full jitter, so a fleet of agents that lost the
 * control plane at the same moment does not come back at the same moment.
 */

/** Bounds of the reconnect delay, in milliseconds. */
export interface BackoffOptions {
  /** Smallest delay, and the base the exponential grows from. */
  minMs: number;
  /** Largest delay, however many failures in a row. */
  maxMs: number;
}

/** What the reference agent uses unless told otherwise: 1 s … 30 s. */
export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = { minMs: 1_000, maxMs: 30_000 };

/**
 * The delay before retry number `attempt` (1 = first retry after a failure).
 *
 * The ceiling doubles per attempt (`minMs · 2^attempt`, capped at `maxMs`) and the delay is drawn
 * uniformly from `[minMs, ceiling]`. The floor keeps a flapping server from being hammered in a
 * tight loop, which plain "random(0, ceiling)" jitter would allow.
 *
 * @param attempt consecutive failures so far (values below 1 are treated as 1)
 * @param options bounds; defaults to {@link DEFAULT_BACKOFF}
 * @param random a `[0, 1)` source, injectable so tests are deterministic
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const min = Math.max(0, options.minMs);
  const max = Math.max(min, options.maxMs);
  const n = Math.max(1, Math.floor(attempt));
  // 2^n overflows to Infinity long after it passes any sane max; Math.min copes with that.
  const ceiling = Math.min(max, min * 2 ** n);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(min + r * (ceiling - min));
}

/**
 * Resolves after `ms`, or as soon as `signal` aborts: never rejects, so callers just check
 * whether they were stopped afterwards instead of wrapping every wait in try/catch.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener("abort", done, { once: true });
  });
}
