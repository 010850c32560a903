/**
 * A statement the database never answers fails after the statement timeout (createDb), counts as
 * an outage, and does not cost the pool its later statements. Shortened here; 15 s in the product.
 */
import { describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { isDatabaseUnavailable } from "../../src/errors";
import { testDbOptions } from "../helpers/db";

describe("a statement with no answer", () => {
  it("fails as an outage after the statement timeout, and the pool's next statement runs", async () => {
    const handle = createDb(
      // the object's kind of pool (statements over its WebSocket), with a short statement timeout
      testDbOptions({ idleTimeoutMs: 1_000, statementTimeoutMs: 300 }),
    );
    try {
      const started = Date.now();
      const err = await handle.db.$client.query("select pg_sleep(5)").catch((e: unknown) => e);
      expect(String(err)).toContain("Query read timeout");
      expect(Date.now() - started).toBeLessThan(4_000); // it did not wait for the answer
      expect(isDatabaseUnavailable(err)).toBe(true);
      const { rows } = await handle.db.$client.query("select 1 as one");
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await handle.end();
    }
  });
});
