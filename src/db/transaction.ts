/**
 * A transaction on a connection of its own, closed instead of reused when the database failed
 * it. drizzle's `db.transaction()` on a Pool hands the connection back as healthy whatever
 * happened, and never hands it back when `begin` fails: after a statement timeout the pool kept a
 * connection still busy with the abandoned statement, the next transaction's `begin` failed on it,
 * and the pool could no longer be closed (test/integration/db.statement-timeout.test.ts).
 */
import { drizzle } from "drizzle-orm/neon-serverless";
import { isDatabaseUnavailable, isTransientConflict } from "../errors";
import type { Db, Tx } from "./client";

/** Runs of a transaction Postgres rolled back for a deadlock or a serialization failure. */
const CONFLICT_ATTEMPTS = 3;

/**
 * `work` in a transaction. One that Postgres rolled back for a deadlock or a serialization
 * failure is run again from the start, twice at most: nothing of it was written, and concurrent
 * work that takes the same rows in another order is normal (an administrator's cancel locks the
 * command and then the one behind it, while the agent answering that one locks them the other
 * way round), not the caller's failure. `work` must touch nothing but the database.
 */
export async function transaction<T>(db: Db, work: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transactionOnce(db, work);
    } catch (err) {
      if (attempt >= CONFLICT_ATTEMPTS || !isTransientConflict(err)) throw err;
    }
  }
}

async function transactionOnce<T>(db: Db, work: (tx: Tx) => Promise<T>): Promise<T> {
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
