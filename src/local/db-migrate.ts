/**
 * `npm run db:migrate`: applies `migrations/` to DATABASE_URL (any Postgres, Neon included). With
 * no DATABASE_URL it migrates the embedded database `npm run dev` keeps in .data/pglite.
 */
import path from "node:path";
import { PROJECT_ROOT } from "./dev-vars";
import { startEmbeddedPostgres } from "./embedded-postgres";
import { migrateDatabase } from "./migrate";
import { isMain } from "./is-main";

export const EMBEDDED_DATA_DIR = path.join(PROJECT_ROOT, ".data/pglite");

if (isMain(import.meta.url)) {
  const url = process.env["DATABASE_URL"];
  if (url) {
    await migrateDatabase(url);
    console.log(`migrated ${new URL(url).host}${new URL(url).pathname}`);
  } else {
    console.log(`DATABASE_URL is not set: migrating the embedded database in ${EMBEDDED_DATA_DIR}`);
    const embedded = await startEmbeddedPostgres(EMBEDDED_DATA_DIR);
    try {
      await migrateDatabase(embedded.url);
    } finally {
      await embedded.close();
    }
    console.log("migrated the embedded database");
  }
}
