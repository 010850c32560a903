/**
 * A transaction on a connection of its own, closed instead of reused when the database failed
 * it. drizzle's `db.transaction()` on a Pool hands the connection back as healthy whatever
 * happened, and never hands it back when `begin` fails: after a statement timeout the pool kept a
 * connection still busy with the abandoned statement, the next transaction's `begin` failed on it,
 * and the pool could no longer be closed (test/integration/db.statement-timeout.test.ts).
 */
import { drizzle } from "drizzle-orm/neon-serverless";
import { isDatabaseUnavailable } from "../errors";
import type { Db, Tx } from "./client";

export async function transaction<T>(db: Db, work: (tx: Tx) => Promise<T>): Promise<T> {
  const client = await db.$client.connect();
  let broken: Error | undefined;
  try {
    return await drizzle({ client }).transaction(work);
  } catch (err) {
    // A refusal (a constraint, an AppError from `work`) was rolled back on a healthy connection.
    if (isDatabaseUnavailable(err)) broken = err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    client.release(broken);
  }
}
