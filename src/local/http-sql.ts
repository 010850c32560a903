/**
 * Neon's SQL-over-HTTP endpoint (`POST /sql`), locally, for the driver's `Pool.query()` with
 * poolQueryViaFetch (see src/db/client.ts): one query, or one batch, per request over a warm pg
 * pool, values as text and rows as arrays, as the driver asks (Neon-Raw-Text-Output,
 * Neon-Array-Mode), so it parses them by type exactly as it parses Neon's answers. Errors come
 * back as Neon sends them: 400 with the Postgres error's fields, so SQLSTATEs reach the Worker. A
 * batch (`{queries: [...]}`, the driver's `neon().transaction()`) runs as one transaction, its
 * results in order, as Neon runs it.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import pg from "pg";
import { HTTP_ERROR_FIELDS } from "../db/http-error-fields";

/** Every value as the text Postgres sent: the driver applies its own type parsers. */
const rawText = { getTypeParser: () => (value: string) => value };

const MAX_BODY_BYTES = 8 * 1024 * 1024;
const POOL_SIZE = 10;

/**
 * Told of each request the database answered: the first statement's text and how long the
 * database work took (a pooled connection, the statements, and a batch's BEGIN and COMMIT), in ms.
 * The bench uses it to split a dispatch's time between Postgres and the rest. Answering
 * "withhold" leaves the request unanswered although Postgres ran it: the fault tests' stand-in
 * for an answer lost on the way back (the caller's statement timeout ends its wait).
 */
export type StatementObserver = (query: string, ms: number) => void | "withhold";

export type SqlOverHttp = {
  /** Answers one request; `target` is the loopback host:port the Worker's DATABASE_URL names. */
  handle(req: IncomingMessage, res: ServerResponse, target: { host: string; port: number }): void;
  close(): Promise<void>;
};

export function sqlOverHttp(observe?: StatementObserver): SqlOverHttp {
  const pools = new Map<string, pg.Pool>();
  const poolFor = (connectionString: string, target: { host: string; port: number }) => {
    const url = new URL(connectionString);
    url.hostname = target.host;
    url.port = String(target.port);
    const key = url.toString();
    let pool = pools.get(key);
    if (!pool) {
      pool = new pg.Pool({ connectionString: key, max: POOL_SIZE });
      pool.on("error", () => {}); // an idle client dropped by the server: the pool replaces it
      pools.set(key, pool);
    }
    return pool;
  };

  const answer = (res: ServerResponse, status: number, body: unknown) => {
    if (res.headersSent) return;
    res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
  };

  return {
    handle(req, res, target) {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          answer(res, 413, { message: "request body too large" });
          req.destroy();
        } else chunks.push(chunk);
      });
      req.on("end", async () => {
        const connectionString = req.headers["neon-connection-string"];
        let body: { query?: unknown; params?: unknown; queries?: unknown };
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as typeof body;
        } catch {
          return answer(res, 400, { message: "body is not JSON" });
        }
        if (typeof connectionString !== "string") return answer(res, 400, { message: "Neon-Connection-String header missing" });
        const batch = body.queries !== undefined;
        let queries: Query[];
        if (batch) {
          if (!Array.isArray(body.queries) || !body.queries.every(isQuery)) return answer(res, 400, { message: "expected {queries: [{query, params}]}" });
          queries = body.queries as Query[];
        } else if (isQuery(body)) queries = [body];
        else return answer(res, 400, { message: "expected {query, params}" });
        let pool: pg.Pool;
        try {
          pool = poolFor(connectionString, target);
        } catch {
          return answer(res, 400, { message: "invalid connection string" });
        }
        try {
          const started = performance.now();
          const isolation = isolationLevel(req.headers["neon-batch-isolation-level"]);
          const results = batch ? await inTransaction(pool, queries, isolation) : [await pool.query(asArrays(queries[0]!))];
          if (observe?.(queries[0]?.query ?? "", performance.now() - started) === "withhold") return;
          return answer(res, 200, batch ? { results: results.map(neonResult) } : neonResult(results[0]!));
        } catch (err) {
          if (err instanceof pg.DatabaseError) {
            const fields = Object.fromEntries(HTTP_ERROR_FIELDS.map((k) => [k, err[k]]).filter(([, v]) => v !== undefined));
            return answer(res, 400, { message: err.message, ...fields });
          }
          // Postgres (or PgBouncer) not reachable: Neon's proxy answers a failed connection to
          // its compute with 500 (proxy/src/serverless/sql_over_http.rs), so this does too.
          answer(res, 500, { message: `database unreachable: ${(err as Error).message}` });
        }
      });
    },
    async close() {
      await Promise.all([...pools.values()].map((p) => p.end().catch(() => {})));
      pools.clear();
    },
  };
}

type Query = { query: string; params: unknown[] };

function isQuery(value: unknown): value is Query {
  const q = value as Partial<Query> | null;
  return typeof q === "object" && q !== null && typeof q.query === "string" && Array.isArray(q.params);
}

/**
 * Always the extended protocol, as Neon's proxy uses: a statement without parameters would
 * otherwise go as a simple query, where several statements in one string run, which Neon refuses.
 */
const asArrays = (q: Query) => ({ text: q.query, values: q.params, rowMode: "array" as const, types: rawText, queryMode: "extended" as const });

/** The isolation levels Neon's Neon-Batch-Isolation-Level names; absent, Postgres's default. */
const ISOLATION: Record<string, string> = {
  ReadUncommitted: "read uncommitted",
  ReadCommitted: "read committed",
  RepeatableRead: "repeatable read",
  Serializable: "serializable",
};

function isolationLevel(header: string | string[] | undefined): string | undefined {
  return typeof header === "string" ? ISOLATION[header] : undefined;
}

/** Runs `queries` in one transaction on one connection; any failure rolls all of them back. */
async function inTransaction(pool: pg.Pool, queries: Query[], isolation: string | undefined): Promise<pg.QueryResult[]> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(isolation ? `begin isolation level ${isolation}` : "begin");
    const results: pg.QueryResult[] = [];
    for (const q of queries) results.push(await client.query(asArrays(q)));
    await client.query("commit");
    return results;
  } catch (err) {
    // A refused statement leaves a healthy connection to roll back; anything else, one to discard.
    if (err instanceof pg.DatabaseError) await client.query("rollback").catch((e: unknown) => (broken = e as Error));
    else broken = err as Error;
    throw err;
  } finally {
    client.release(broken);
  }
}

/** A result as Neon's endpoint answers it in raw-text, array mode. */
function neonResult(result: pg.QueryResult) {
  return {
    command: result.command,
    rowCount: result.rowCount,
    rows: result.rows,
    fields: result.fields.map((f) => ({
      name: f.name,
      tableID: f.tableID,
      columnID: f.columnID,
      dataTypeID: f.dataTypeID,
      dataTypeSize: f.dataTypeSize,
      dataTypeModifier: f.dataTypeModifier,
      format: f.format,
    })),
    rowAsArray: true,
  };
}
