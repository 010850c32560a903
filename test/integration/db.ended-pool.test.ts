/**
 * A Durable Object drops its pool when the database is unreachable (AgentObject #dropDb) and the
 * next use opens a new one. A statement that another chain of the object started on the old pool
 * then fails with the driver's "Cannot use a pool after calling end": it never reached Postgres,
 * so it must count as an outage (the frame is kept and retried), not as a refusal (dropped).
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { isDatabaseUnavailable } from "../../src/errors";
import { testDbOptions } from "../helpers/db";

describe("a statement on a pool the object has already dropped", () => {
  it("fails as an outage, so the frame it belongs to is kept for a retry", async () => {
    const handle = createDb(testDbOptions({ idleTimeoutMs: 1_000 })); // the object's kind of pool: statements over its WebSocket
    await handle.db.execute(sql`select 1`);
    await handle.end();
    const err = await handle.db.execute(sql`select 1`).catch((e: unknown) => e);
    expect(String((err as { cause?: unknown }).cause ?? err)).toContain("Cannot use a pool after calling end");
    expect(isDatabaseUnavailable(err)).toBe(true);
  });
});
