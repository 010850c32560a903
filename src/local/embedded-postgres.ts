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
 * leave them unreadable. The lock names its holder by pid and, where /proc tells, the pid's start
 * time, so a lock left by a killed process is taken over even once its pid is reused.
 */
export function lockDirectory(dir: string): { release(): void } {
  const file = `${dir.replace(/\/+$/, "")}.lock`;
  const me = holderOf(process.pid);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      fs.writeFileSync(file, me, { flag: "wx" });
      const release = () => {
        process.off("exit", release);
        if (readLock(file) === me) fs.rmSync(file, { force: true });
      };
      process.on("exit", release);
      return { release };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const held = readLock(file);
    const pid = Number(held?.split(" ")[0]);
    if (held !== undefined && Number.isInteger(pid) && pid > 0 && (pid === process.pid || holderOf(pid) === held)) {
      throw new Error(`the embedded database in ${dir} is in use by process ${pid} (another \`npm run dev\`?): stop it first`);
    }
    // Stale: moved aside, not deleted, so of two processes taking it over only one succeeds.
    const aside = `${file}.stale-${process.pid}`;
    try {
      fs.renameSync(file, aside);
      fs.rmSync(aside, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  throw new Error(`could not lock ${dir}`);
}

function readLock(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
}

/**
 * "<pid> <start time>" for a live process ("<pid>" where /proc cannot tell), or "" for one that
 * is gone (or a zombie).
 */
function holderOf(pid: number): string {
  if (!isRunning(pid)) return "";
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The fields after the command name (in parentheses, which may hold spaces): state is the
    // first of them, the start time the twentieth.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z") return "";
    return `${pid} ${fields[19]}`;
  } catch {
    return String(pid);
  }
}
