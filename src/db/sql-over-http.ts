/**
 * One statement as one request to Neon's SQL-over-HTTP endpoint, the request the driver's
 * `Pool.query()` makes with `poolQueryViaFetch`, without the driver's per-call work: for every
 * statement it parses the connection string three times (`new URL`), builds a connection-parameter
 * object and a fresh `neon()` function. In a profile of the bench's throughput that work was ~8 %
 * of workerd's busy time; on the session create it showed in the dispatch latency
 * (src/local/bench/HISTORY.md). Used for the session create and for every compiled statement
 * (compiled.ts), which are all of a Durable Object's.
 *
 * The endpoint is the driver's own (`neonConfig.fetchEndpoint`, which the local proxy overrides).
 * Values come back as Postgres text: `runOverHttp` hands them over as they are, `rowsOverHttp`
 * parses them with the driver's own type parsers into rows keyed by column, as `Pool.query()`
 * returns them. Errors are the driver's `NeonDbError` with the messages and fields it gives them,
 * so errors.ts classifies both paths alike.
 */
import { NeonDbError, neonConfig, types } from "@neondatabase/serverless";
import type { SQL } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import { HTTP_ERROR_FIELDS } from "./http-error-fields";

/** Rows as arrays of the text Postgres sent (null for SQL NULL). */
export type TextRows = (string | null)[][];
/** The endpoint's answer to one statement, as far as it is read here. */
export type HttpResult = { fields: { name: string; dataTypeID: number }[]; rows: TextRows };
/** A statement's text with its values (`$1`, `$2`, …). */
export type Statement = { text: string; params: readonly unknown[] };
/** Values are sent as Postgres text (see `toPgText`). */
export type SqlOverHttp = ((text: string, params: readonly unknown[]) => Promise<HttpResult>) & {
  /**
   * The statements as one transaction in one request, each seeing the ones before it, answered
   * in order (Neon's batch, the driver's `neon().transaction()`); any failure rolls all back.
   */
  transaction(statements: readonly Statement[]): Promise<HttpResult[]>;
};

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
  const post = async (body: unknown, batch = false): Promise<unknown> => {
    endpoint ??= fetchEndpoint(connectionString);
    let res: Response;
    try {
      res = await fetchTimed(endpoint, { method: "POST", headers: batch ? { ...headers, ...BATCH_HEADERS } : headers, body: JSON.stringify(body) });
    } catch (err) {
      throw Object.assign(new NeonDbError(`Error connecting to database: ${String(err)}`), { sourceError: err });
    }
    if (res.ok) return res.json();
    if (res.status === 400) {
      const answer = (await res.json()) as Record<string, unknown>;
      const err = new NeonDbError(String(answer["message"]));
      for (const field of HTTP_ERROR_FIELDS) Object.assign(err, { [field]: answer[field] ?? undefined });
      throw err;
    }
    // The driver's message (errors.ts reads the status from it). Neon answers 500 when it cannot
    // reach the database, with the same fields as a 400 when Postgres said why (a SQLSTATE).
    const text = await res.text();
    const err = new NeonDbError(`Server error (HTTP status ${res.status}): ${text}`);
    const code = sqlStateIn(text);
    if (code) Object.assign(err, { code });
    throw err;
  };
  const query = (text: string, params: readonly unknown[]) => ({ query: text, params: params.map(toPgText) });
  return Object.assign(async (text: string, params: readonly unknown[]) => (await post(query(text, params))) as HttpResult, {
    async transaction(statements: readonly Statement[]) {
      const { results } = (await post({ queries: statements.map((s) => query(s.text, s.params)) }, true)) as { results: HttpResult[] };
      return results;
    },
  });
}

/** The SQLSTATE a 5xx answer's JSON body names, if any. */
function sqlStateIn(text: string): string | undefined {
  try {
    const code = (JSON.parse(text) as { code?: unknown }).code;
    return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stated rather than left to the endpoint's default: batched statements are the DO's, which ran
 * at READ COMMITTED as single statements; at a stricter level a row a concurrent statement changed
 * would fail the whole batch with a serialization error instead of being re-read.
 */
const BATCH_HEADERS = { "Neon-Batch-Isolation-Level": "ReadCommitted" };

/** The endpoint the driver would send this connection string's queries to. */
function fetchEndpoint(connectionString: string): string {
  const { hostname, port } = new URL(connectionString);
  const configured = neonConfig.fetchEndpoint;
  return typeof configured === "function" ? configured(hostname, port, { jwtAuth: false }) : configured;
}

const dialect = new PgDialect();

/** Runs a statement written with drizzle's `sql` (so it can also run on a transaction). */
export async function runOverHttp(http: SqlOverHttp, statement: SQL): Promise<TextRows> {
  const { sql: text, params } = dialect.sqlToQuery(statement);
  return (await http(text, params)).rows;
}

/** Runs `text` with `params` and parses the rows as the driver's `Pool.query()` does. */
export async function rowsOverHttp(http: SqlOverHttp, text: string, params: readonly unknown[]): Promise<Record<string, unknown>[]> {
  return parseRows(await http(text, params));
}

/** An answer's rows, keyed by column and parsed with the driver's own type parsers. */
export function parseRows({ fields, rows }: HttpResult): Record<string, unknown>[] {
  const parsers = fields.map((f) => types.getTypeParser(f.dataTypeID, "text"));
  return rows.map((row) => {
    const out: Record<string, unknown> = {};
    for (const [i, field] of fields.entries()) out[field.name] = row[i] === null ? null : parsers[i]!(row[i]!);
    return out;
  });
}

/**
 * A parameter as the Postgres text the driver sends for it (pg's `prepareValue`, for the kinds
 * our statements bind): arrays as array literals (`= any($1)`), objects as JSON.
 */
export function toPgText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return `{${value.map(arrayElement).join(",")}}`;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function arrayElement(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (Array.isArray(value)) return toPgText(value)!;
  return `"${toPgText(value)!.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}
