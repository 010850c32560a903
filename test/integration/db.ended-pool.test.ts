/**
 * A request closes its pool when it is done (createDb's `end`). A transaction begun on a pool that
 * is already closed fails with the driver's "Cannot use a pool after calling end": it never reached
 * Postgres, so it must count as an outage (an API 503 the caller retries), not as a refusal.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { transaction } from "../../src/db/transaction";
import { isDatabaseUnavailable } from "../../src/errors";
import { testDbOptions } from "../helpers/db";

describe("a transaction on a pool already closed", () => {
  it("fails as an outage, not as a statement the database refused", async () => {
    const handle = createDb(testDbOptions());
    await transaction(handle.db, (tx) => tx.execute(sql`select 1`));
    await handle.end();
    const err = await transaction(handle.db, (tx) => tx.execute(sql`select 1`)).catch((e: unknown) => e);
    expect(String((err as { cause?: unknown }).cause ?? err)).toContain("Cannot use a pool after calling end");
    expect(isDatabaseUnavailable(err)).toBe(true);
  });
});
