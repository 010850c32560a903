/**
 * Neon's SQL-over-HTTP endpoint (`POST /sql`), locally, for the driver's `Pool.query()` with
 * poolQueryViaFetch (see src/db/client.ts): one query per request over a warm pg pool, values as
 * text and rows as arrays, as the driver asks (Neon-Raw-Text-Output, Neon-Array-Mode), so it parses
 * them by type exactly as it parses Neon's answers. Errors come back as Neon sends them: 400 with
 * the Postgres error's fields, so SQLSTATEs reach the Worker. Batches are not used here and refused.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import pg from "pg";
import { HTTP_ERROR_FIELDS } from "../db/http-error-fields";

/** Every value as the text Postgres sent: the driver applies its own type parsers. */
const rawText = { getTypeParser: () => (value: string) => value };

const MAX_BODY_BYTES = 8 * 1024 * 1024;
const POOL_SIZE = 10;

export type SqlOverHttp = {
  /** Answers one request; `target` is the loopback host:port the Worker's DATABASE_URL names. */
  handle(req: IncomingMessage, res: ServerResponse, target: { host: string; port: number }): void;
  close(): Promise<void>;
};

export function sqlOverHttp(): SqlOverHttp {
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
        if (body.queries !== undefined) return answer(res, 400, { message: "batched queries are not supported by the local endpoint" });
        if (typeof body.query !== "string" || !Array.isArray(body.params)) return answer(res, 400, { message: "expected {query, params}" });
        let pool: pg.Pool;
        try {
          pool = poolFor(connectionString, target);
        } catch {
          return answer(res, 400, { message: "invalid connection string" });
        }
        try {
          const result = await pool.query({ text: body.query, values: body.params, rowMode: "array", types: rawText });
          answer(res, 200, {
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
          });
        } catch (err) {
          if (err instanceof pg.DatabaseError) {
            const fields = Object.fromEntries(HTTP_ERROR_FIELDS.map((k) => [k, err[k]]).filter(([, v]) => v !== undefined));
            return answer(res, 400, { message: err.message, ...fields });
          }
          // Postgres (or PgBouncer) not reachable: Neon answers such moments with a 5xx too.
          answer(res, 503, { message: `database unreachable: ${(err as Error).message}` });
        }
      });
    },
    async close() {
      await Promise.all([...pools.values()].map((p) => p.end().catch(() => {})));
      pools.clear();
    },
  };
}
