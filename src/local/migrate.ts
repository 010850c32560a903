/**
 * Applies the drizzle-kit migrations in `migrations/` to a Postgres given by URL. Works on the
 * machine's Postgres, the embedded PGlite and Neon alike (plain TCP, TLS when the URL asks).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";

export const MIGRATIONS_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../migrations",
);

/** Runs every migration not yet applied; safe to call repeatedly. */
export async function migrateDatabase(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // drizzle's migrator prints NOTICEs ("schema already exists") on re-runs: not news.
    await client.query("SET client_min_messages TO warning");
    await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_DIR });
  } finally {
    await client.end();
  }
}
