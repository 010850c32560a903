/**
 * A drizzle instance over a Neon `Pool`, never at module scope: in a Worker a WebSocket cannot
 * outlive the request that opened it. Single statements go over HTTP (no connection to open or
 * keep); only transactions take a WebSocket connection from the pool, so requests close it with
 * `ctx.waitUntil(handle.end())`. A Durable Object runs no transactions and keeps one handle for
 * its lifetime without holding any connection (see AgentObject).
 */
import { Pool, neonConfig } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-serverless";
import type { NeonDatabase } from "drizzle-orm/neon-serverless";
import type { Config } from "../env";
import { CoalescingWebSocket } from "./coalescing-websocket";
import { sqlOverHttp, timedFetch } from "./sql-over-http";
import type { SqlOverHttp } from "./sql-over-http";

/**
 * drizzle over a Pool, and `overHttp`: the same HTTP request the pool sends for a single
 * statement, without the driver's and drizzle's per-call work, for the session create and the
 * compiled statements (see sql-over-http.ts). A transaction handle has no `overHttp`.
 * Transactions go through `transaction()` (transaction.ts), not `db.transaction()`.
 */
export type Db = NeonDatabase & { readonly $client: Pool; readonly overHttp: SqlOverHttp };
export type DbHandle = { db: Db; end(): Promise<void> };

export type DbOptions = {
  url: string;
  /** "host:port" of a local WebSocket→TCP proxy; empty for Neon. */
  wsProxy: string;
  /**
   * With a local proxy: whether the endpoint asks for a cleartext password, so the driver may
   * send start-up, password and first query without waiting (Neon's endpoints do; it is the
   * driver's default there). A server that does not ask (trust, SCRAM) fails with it on.
   */
  pipelineConnect: boolean;
  /**
   * How long the database may keep us waiting before it counts as unreachable (errors.ts
   * classifies these failures as unavailable): opening a connection or waiting for a free one,
   * and one statement (over HTTP, its connection included). pg and fetch wait forever by default,
   * so on a path that drops packets a Durable Object's retries of kept frames, and the alarm
   * running them, or an API request would never end.
   */
  connectTimeoutMs: number;
  statementTimeoutMs: number;
};

/** Opens a Pool (lazily: no connection until the first query) and wraps it in drizzle. */
export function createDb({ url, wsProxy, pipelineConnect, connectTimeoutMs, statementTimeoutMs }: DbOptions): DbHandle {
  if (wsProxy) useLocalProxy(wsProxy, pipelineConnect, url);
  // A single statement outside a transaction goes over one HTTP request (Neon's SQL-over-HTTP
  // endpoint) instead of opening a WebSocket and a Postgres session for it; transactions still
  // take a WebSocket connection from the pool.
  neonConfig.poolQueryViaFetch = true;
  neonConfig.fetchFunction = timedFetch(statementTimeoutMs);
  neonConfig.webSocketConstructor = CoalescingWebSocket as unknown as typeof WebSocket;
  const pool = new Pool({
    connectionString: url,
    max: 4,
    connectionTimeoutMillis: connectTimeoutMs,
    // A transaction's statement past this fails and its connection is closed.
    query_timeout: statementTimeoutMs,
  });
  // An idle client's socket failing (e.g. Postgres restarted) must not crash the isolate.
  pool.on("error", () => {});
  let ended = false;
  // No `schema`: nothing uses db.query.*, and drizzle rebuilds its relational config from the
  // schema on every instance (~0.2 ms CPU per request in the bench storm profile).
  const db = drizzle({ client: pool });
  return {
    db: Object.assign(db, { overHttp: sqlOverHttp(url, statementTimeoutMs) }),
    end: async () => {
      if (ended) return;
      ended = true;
      await pool.end().catch(() => {});
    },
  };
}

/** The options a Worker request, a DO or the sweep open their database with. */
export function dbOptions(config: Config): DbOptions {
  return {
    url: config.DATABASE_URL,
    wsProxy: config.DB_WS_PROXY,
    pipelineConnect: config.DB_PIPELINE_CONNECT,
    connectTimeoutMs: config.DB_CONNECT_TIMEOUT_SECONDS * 1000,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_SECONDS * 1000,
  };
}

/**
 * Points the driver at the local proxy (src/local/ws-proxy.ts), for WebSockets and HTTP queries.
 * neonConfig is process-wide, but the values are the same for every invocation of one
 * deployment, so setting them again is harmless.
 */
function useLocalProxy(proxy: string, pipeline: boolean, url: string): void {
  neonConfig.wsProxy = (host, port) => `${proxy}/v1?address=${host}:${port}`;
  // The driver drops the port from what it hands this function; the deployment's URL has it.
  const { hostname, port } = new URL(url);
  neonConfig.fetchEndpoint = `http://${proxy}/sql?address=${hostname}:${port || 5432}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = pipeline ? "password" : false;
  // Coalescing writes adds ~1.3 ms per query on loopback (platform notes §4.3).
  neonConfig.coalesceWrites = false;
}

/** A transaction handle as drizzle passes it to `db.transaction(cb)`. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
/** Anything a named query can run on: the pool or an open transaction. */
export type Queryable = Db | Tx;
