/**
 * The embedded default: PGlite (Postgres compiled to WASM) served on a local TCP socket, so a
 * machine with no Postgres still runs `npm run dev` and `npm test`.
 *
 * PGlite is one database behind one connection; the socket server multiplexes clients onto
 * it. Good for development and tests, not for production or benchmarks.
 */
import fs from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

export type EmbeddedPostgres = { url: string; close(): Promise<void> };

/** Starts PGlite with data under `dataDir` (undefined = in memory) on `port` (0 = any). */
export async function startEmbeddedPostgres(
  dataDir: string | undefined,
  port = 0,
): Promise<EmbeddedPostgres> {
  if (dataDir) fs.mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir ?? "memory://");
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port, maxConnections: 100 });
  await server.start();
  const address = server.getServerConn();
  const actualPort = Number(address.split(":").pop());
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${actualPort}/postgres`,
    async close() {
      await server.stop();
      await db.close();
    },
  };
}
