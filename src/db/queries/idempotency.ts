/** Named queries for `idempotency_keys`. */
import { and, eq, sql } from "drizzle-orm";
import type { Queryable } from "../client";
import { idempotencyKeys } from "../schema";

export type StoredAnswer = { requestHash: string; statusCode: number; response: unknown };

/** The answer stored for (scope, key), if any. */
export async function idempotencyGet(db: Queryable, scope: string, key: string): Promise<StoredAnswer | undefined> {
  const [row] = await db
    .select({ requestHash: idempotencyKeys.requestHash, statusCode: idempotencyKeys.statusCode, response: idempotencyKeys.response })
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)))
    .limit(1);
  return row;
}

/**
 * Stores the answer inside the transaction that did the work. A concurrent request with the same
 * key blocks on the primary key until this one commits, then finds it (returns false).
 */
export async function idempotencyPut(db: Queryable, scope: string, key: string, answer: StoredAnswer): Promise<boolean> {
  const rows = await db
    .insert(idempotencyKeys)
    .values({ scope, key, ...answer })
    .onConflictDoNothing()
    .returning({ key: idempotencyKeys.key });
  return rows.length > 0;
}

/** Deletes keys older than `hours`, at most `limit`; returns how many. */
export async function idempotencyDeleteOld(db: Queryable, hours: number, limit: number): Promise<number> {
  const rows = await db
    .delete(idempotencyKeys)
    .where(
      sql`(${idempotencyKeys.scope}, ${idempotencyKeys.key}) in (select scope, key from ${idempotencyKeys}
        where created_at < now() - make_interval(hours => ${hours}) limit ${limit})`,
    )
    .returning({ key: idempotencyKeys.key });
  return rows.length;
}
