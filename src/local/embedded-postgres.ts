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
import { isRunning } from "./pid";

export type EmbeddedPostgres = { url: string; close(): Promise<void> };

/** Starts PGlite with data under `dataDir` (undefined = in memory) on `port` (0 = any). */
export async function startEmbeddedPostgres(
  dataDir: string | undefined,
  port = 0,
): Promise<EmbeddedPostgres> {
  if (dataDir) fs.mkdirSync(dataDir, { recursive: true });
  const lock = dataDir ? lockDirectory(dataDir) : undefined;
  let db: PGlite;
  try {
    db = await PGlite.create(dataDir ?? "memory://");
  } catch (err) {
    lock?.release();
    throw err;
  }
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
      lock?.release();
    },
  };
}

/**
 * One process at a time per data directory: PGlite takes no lock of its own, and a second
 * process opening the same files (a second `npm run dev`, `npm run db:migrate` beside it) can
 * leave them unreadable. A lock whose process is gone (killed) is taken over.
 */
export function lockDirectory(dir: string): { release(): void } {
  const file = `${dir.replace(/\/+$/, "")}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: "wx" });
      const release = () => {
        process.off("exit", release);
        if (readHolder(file) === process.pid) fs.rmSync(file, { force: true });
      };
      process.on("exit", release);
      return { release };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = readHolder(file);
    if (holder !== undefined && holder !== process.pid && isRunning(holder)) {
      throw new Error(`the embedded database in ${dir} is in use by process ${holder} (another \`npm run dev\`?): stop it first`);
    }
    fs.rmSync(file, { force: true });
  }
  throw new Error(`could not lock ${dir}`);
}

function readHolder(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

