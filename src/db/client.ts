/**
 * A drizzle instance over a Neon `Pool`, never at module scope: in a Worker a WebSocket cannot
 * outlive the request that opened it, so requests open one each and close it with
 * `ctx.waitUntil(handle.end())`; a Durable Object keeps one for its lifetime (see AgentObject).
 */
import { Pool, neonConfig } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-serverless";
import type { NeonDatabase } from "drizzle-orm/neon-serverless";
import * as schema from "./schema";

export type Db = NeonDatabase<typeof schema>;
export type DbHandle = { db: Db; end(): Promise<void> };

export type DbOptions = {
  url: string;
  /** "host:port" of a local WebSocket→TCP proxy; empty for Neon. */
  wsProxy: string;
  /** Close connections idle this long (pg's default is 10 s); for long-lived holders. */
  idleTimeoutMs?: number;
};

/** Opens a Pool (lazily: no connection until the first query) and wraps it in drizzle. */
export function createDb({ url, wsProxy, idleTimeoutMs }: DbOptions): DbHandle {
  if (wsProxy) useLocalProxy(wsProxy);
  const pool = new Pool({ connectionString: url, max: 4, ...(idleTimeoutMs ? { idleTimeoutMillis: idleTimeoutMs } : {}) });
  // An idle client's socket failing (e.g. Postgres restarted) must not crash the isolate.
  pool.on("error", () => {});
  let ended = false;
  return {
    db: drizzle({ client: pool, schema }),
    end: async () => {
      if (ended) return;
      ended = true;
      await pool.end().catch(() => {});
    },
  };
}

/**
 * Points the driver at a local plain-WebSocket proxy. neonConfig is process-wide, but the value
 * is the same for every invocation of one deployment, so setting it again is harmless.
 */
function useLocalProxy(proxy: string): void {
  neonConfig.wsProxy = (host, port) => `${proxy}/v1?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
  // Coalescing writes adds ~1.3 ms per query on loopback (platform notes §4.3).
  neonConfig.coalesceWrites = false;
}

/** A transaction handle as drizzle passes it to `db.transaction(cb)`. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
/** Anything a named query can run on: the pool or an open transaction. */
export type Queryable = Db | Tx;
