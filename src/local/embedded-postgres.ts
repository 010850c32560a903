/**
 * The embedded default: PGlite (Postgres compiled to WASM) served on a local TCP socket, so a
 * machine with no Postgres still runs `npm run dev` and `npm test`.
 *
 * PGlite is one Postgres session behind one connection. Its socket server multiplexes clients
 * onto it message by message, so concurrent clients' queries interleaved (a Parse from one between
 * another's Parse and Bind) and their transactions mixed; clients therefore reach it through a
 * relay that lets one request, or one whole transaction, through at a time (pglite-relay.ts).
 * Good for development and tests, not for production or benchmarks.
 */
import fs from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { startPgliteRelay } from "./pglite-relay";

export type EmbeddedPostgres = { url: string; close(): Promise<void> };

/** Starts PGlite with data under `dataDir` (undefined = in memory) on `port` (0 = any). */
export async function startEmbeddedPostgres(
  dataDir: string | undefined,
  port = 0,
): Promise<EmbeddedPostgres> {
  if (dataDir) fs.mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir ?? "memory://");
  // Every relay client holds its own connection here (one per Durable Object while it is awake,
  // the SQL-over-HTTP pool, tests' pools): at 100 a reconnect storm of 100 agents overflowed it
  // and the server ended the extra ones ("Connection terminated unexpectedly"). Only the relay
  // connects, and it runs one request at a time, so the cap guards nothing else.
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 2_000 });
  await server.start();
  const internalPort = Number(server.getServerConn().split(":").pop());
  const relay = await startPgliteRelay(port, internalPort);
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${relay.port}/postgres`,
    async close() {
      await relay.close();
      await server.stop();
      await db.close();
    },
  };
}

