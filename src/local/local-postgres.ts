/**
 * Finds a Postgres for local runs and tests: `DATABASE_URL` if set, else the machine's server on
 * 127.0.0.1:5432 when reachable (tests), else the embedded PGlite.
 */
import pg from "pg";
import { startEmbeddedPostgres } from "./embedded-postgres";

export const MACHINE_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres";

export type LocalPostgres = { url: string; kind: "configured" | "machine" | "embedded"; close(): Promise<void> };

/** True if a Postgres answers at `url` within `timeoutMs`. */
export async function isReachable(url: string, timeoutMs = 5000): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Why a connection to `url` fails (within `timeoutMs`), or "connected" if it does not. */
export async function connectError(url: string, timeoutMs = 10_000): Promise<string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
    return "connected";
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Whether findPostgres({ preferMachine: true }) would find a real server rather than start PGlite. */
export async function realPostgresAvailable(): Promise<boolean> {
  if (process.env["DATABASE_URL"]) return true;
  return process.env["EMBEDDED_POSTGRES"] !== "1" && (await isReachable(MACHINE_POSTGRES_URL));
}

/** Starts (or finds) a Postgres server. `embeddedDataDir` undefined = in-memory PGlite. */
export async function findPostgres(opts: {
  preferMachine: boolean;
  embeddedDataDir?: string | undefined;
  embeddedPort?: number;
}): Promise<LocalPostgres> {
  const configured = process.env["DATABASE_URL"];
  if (configured) return { url: configured, kind: "configured", close: async () => {} };
  // EMBEDDED_POSTGRES=1 forces PGlite even where a server runs (to test the no-Postgres path).
  const forceEmbedded = process.env["EMBEDDED_POSTGRES"] === "1";
  if (opts.preferMachine && !forceEmbedded && (await isReachable(MACHINE_POSTGRES_URL))) {
    return { url: MACHINE_POSTGRES_URL, kind: "machine", close: async () => {} };
  }
  const embedded = await startEmbeddedPostgres(opts.embeddedDataDir, opts.embeddedPort ?? 0);
  return { url: embedded.url, kind: "embedded", close: () => embedded.close() };
}

/** Creates a fresh database next to `serverUrl` and returns its URL and a drop function. */
export async function createScratchDatabase(serverUrl: string, name: string) {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.query(`create database "${name}"`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`drop database if exists "${name}" with (force)`);
      await c.end();
    },
  };
}
