/** Database reachability for /healthz. */
import { sql } from "drizzle-orm";
import type { Queryable } from "../client";

export async function dbPing(db: Queryable): Promise<void> {
  await db.execute(sql`select 1`);
}
