/**
 * A transaction Postgres rolls back for a deadlock is run again, and the request goes through:
 * an administrator's cancel and the agent's answer to the command behind it lock the same two
 * commands in opposite orders, and the cancel answered 503 when it lost. Here the test's own
 * transaction takes two rows in the other order than the work does.
 */
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createDb } from "../../src/db/client";
import { transaction } from "../../src/db/transaction";
import { makeAgent, testDbOptions, waitForLockWaiter } from "../helpers/db";

// Two transactions at once: embedded PGlite lets one through at a time.
describe.skipIf(!inject("concurrentSessions"))("a transaction in a deadlock", () => {
  const handle = createDb(testDbOptions());
  const other = createDb(testDbOptions());
  afterAll(() => Promise.all([handle.end(), other.end()]));

  it("is run again from the start once Postgres has rolled it back, and answers", async () => {
    const first = (await makeAgent()).agentId;
    const second = (await makeAgent()).agentId;
    const lock = (agentId: string) => sql`select 1 from agents where agent_id = ${agentId} for update`;
    let runs = 0;
    let work: Promise<string> | undefined;
    await transaction(other.db, async (holder) => {
      await holder.execute(lock(second));
      work = transaction(handle.db, async (tx) => {
        runs++;
        await tx.execute(lock(first));
        await tx.execute(lock(second)); // waits for the holder: the first to wait, so the one Postgres rolls back
        return "done";
      });
      await waitForLockWaiter("the work waiting for the holder's row");
      await holder.execute(lock(first)); // closes the cycle; goes through once the work is rolled back
    });
    expect(await work).toBe("done");
    expect(runs).toBe(2);
  });
});
