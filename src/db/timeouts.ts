/**
 * How long the database may keep us waiting before it counts as unreachable (errors.ts
 * classifies each of these failures as unavailable). pg's pool and fetch both wait forever by
 * default: on a path that drops packets a Durable Object's retries of kept frames, and the alarm
 * running them, or an API request would never end. Covered by the "silent" outage in
 * test/node/faults.postgres-unreachable.test.ts and test/integration/db.statement-timeout.test.ts.
 */

/** Opening a connection, or waiting for a free one in the pool. Neon wakes a compute in hundreds of ms. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** One statement, on a connection or over HTTP (there with its connection included). */
export const STATEMENT_TIMEOUT_MS = 15_000;

/** fetch that gives up after STATEMENT_TIMEOUT_MS; every statement over HTTP goes through it. */
export function fetchWithTimeout(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  return fetch(input, { ...init, signal: AbortSignal.timeout(STATEMENT_TIMEOUT_MS) });
}
