/**
 * One statement as one request to Neon's SQL-over-HTTP endpoint, the request the driver's
 * `Pool.query()` makes with `poolQueryViaFetch`, without the driver's per-call work (resolving the
 * connection string and its parameters, building type parsers, parsing every value) or drizzle's.
 * Used for the session create, the one statement on the dispatch latency path, where that work
 * showed in the latency (README, Performance).
 *
 * The endpoint is the driver's own (`neonConfig.fetchEndpoint`, which the local proxy overrides).
 * Values come back as Postgres text, for the caller to read. Errors are the driver's `NeonDbError`
 * with the messages and fields it gives them, so errors.ts classifies both paths alike.
 */
import { NeonDbError, neonConfig } from "@neondatabase/serverless";
import type { SQL } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import { HTTP_ERROR_FIELDS } from "./http-error-fields";

export type SqlParam = string | number | boolean | null;
/** Rows as arrays of the text Postgres sent (null for SQL NULL). */
export type TextRows = (string | null)[][];
export type SqlOverHttp = (text: string, params: readonly SqlParam[]) => Promise<TextRows>;

/**
 * fetch that gives up if no answer has begun after `timeoutMs` (see DbOptions); the driver's HTTP
 * statements use it too. The endpoint answers once the statement has run, so the wait for the
 * answer to begin is the statement's. The timer is cleared as soon as the fetch settles: a timer
 * left pending (`AbortSignal.timeout`) keeps a Durable Object from hibernating until it fires.
 */
export function timedFetch(timeoutMs: number): typeof fetch {
  return async (input, init) => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, "TimeoutError")), timeoutMs);
    try {
      return await fetch(input, { ...init, signal: controller.signal });
    } finally {
      clearTimeout(timer);
    }
  };
}

/**
 * For `connectionString`. Every Worker request gets one (createDb), and most never use it: the
 * endpoint is resolved on the first call, from the driver's configuration as createDb set it.
 */
export function sqlOverHttp(connectionString: string, timeoutMs: number): SqlOverHttp {
  const fetchTimed = timedFetch(timeoutMs);
  let endpoint: string | undefined;
  // Exactly the driver's headers (it sets no Content-Type either).
  const headers = {
    "Neon-Connection-String": connectionString,
    "Neon-Raw-Text-Output": "true",
    "Neon-Array-Mode": "true",
  };
  return async (text, params) => {
    endpoint ??= fetchEndpoint(connectionString);
    let res: Response;
    try {
      const body = JSON.stringify({ query: text, params: params.map((p) => (p === null ? null : String(p))) });
      res = await fetchTimed(endpoint, { method: "POST", headers, body });
    } catch (err) {
      throw Object.assign(new NeonDbError(`Error connecting to database: ${String(err)}`), { sourceError: err });
    }
    if (res.ok) return ((await res.json()) as { rows: TextRows }).rows;
    if (res.status === 400) {
      const answer = (await res.json()) as Record<string, unknown>;
      const err = new NeonDbError(String(answer["message"]));
      for (const field of HTTP_ERROR_FIELDS) Object.assign(err, { [field]: answer[field] ?? undefined });
      throw err;
    }
    throw new NeonDbError(`Server error (HTTP status ${res.status}): ${await res.text()}`);
  };
}

/** The endpoint the driver would send this connection string's queries to. */
function fetchEndpoint(connectionString: string): string {
  const { hostname, port } = new URL(connectionString);
  const configured = neonConfig.fetchEndpoint;
  return typeof configured === "function" ? configured(hostname, port, { jwtAuth: false }) : configured;
}

const dialect = new PgDialect();

/** Runs a statement written with drizzle's `sql` (so it can also run on a transaction). */
export function runOverHttp(http: SqlOverHttp, statement: SQL): Promise<TextRows> {
  const { sql: text, params } = dialect.sqlToQuery(statement);
  return http(text, params as SqlParam[]);
}
