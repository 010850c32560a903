/**
 * A statement the database never answers fails after the statement timeout (createDb), counts as
 * an outage, and does not cost the handle its later statements: over HTTP (every single
 * statement, all of a Durable Object's) and in a transaction (a pooled connection). Shortened
 * here; DB_STATEMENT_TIMEOUT_SECONDS in the product.
 */
import { sql } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { createDb } from "../../src/db/client";
import type { Db } from "../../src/db/client";
import { transaction } from "../../src/db/transaction";
import { isDatabaseUnavailable } from "../../src/errors";
import { testDbOptions } from "../helpers/db";

async function withShortTimeout(use: (db: Db) => Promise<void>): Promise<void> {
  const handle = createDb(testDbOptions({ statementTimeoutMs: 300 }));
  try {
    await use(handle.db);
  } finally {
    await handle.end();
  }
}

async function expectTimedOut(statement: Promise<unknown>, message: string): Promise<void> {
  const started = Date.now();
  const err = await statement.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, "the statement should have failed").not.toBeNull();
  expect(String((err as { cause?: unknown }).cause ?? err)).toContain(message);
  expect(Date.now() - started).toBeLessThan(4_000); // it did not wait for the answer
  expect(isDatabaseUnavailable(err)).toBe(true);
}

// The abandoned pg_sleep keeps running on the server: on embedded PGlite, which runs one
// statement at a time, every later statement (the next one here, the next test's) waits for it.
describe.skipIf(!inject("concurrentSessions"))("a statement with no answer", () => {
  it("over HTTP fails as an outage after the statement timeout, and the next statement runs", async () => {
    await withShortTimeout(async (db) => {
      await expectTimedOut(db.$client.query("select pg_sleep(5)"), "Error connecting to database");
      const { rows } = await db.$client.query("select 1 as one");
      expect(rows).toEqual([{ one: 1 }]);
    });
  });

  it("in a transaction fails as an outage after the statement timeout, and the next transaction and the pool's close run", async () => {
    await withShortTimeout(async (db) => {
      await expectTimedOut(transaction(db, (tx) => tx.execute(sql`select pg_sleep(5)`)), "Query read timeout");
      const rows = await transaction(db, (tx) => tx.execute(sql`select 1 as one`));
      expect(rows.rows).toEqual([{ one: 1 }]);
    });
  });
});
