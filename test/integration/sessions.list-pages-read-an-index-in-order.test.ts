/**
 * Sessions are kept for good, so a page of the session list must be read off an index in the
 * list's order (newest first), not sorted out of every matching session: a user's page would
 * slow down with each session the user ever had, an administrator's with every session there
 * is (348 ms at 1,000,000 on a scratch database). The plans are asked for with sorting priced
 * out: a plan that still sorts has no index that gives the order.
 */
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { sessionList } from "../../src/db/queries/sessions";
import type { SessionListFilter } from "../../src/db/queries/sessions";
import { query, withDb } from "../helpers/db";
import { planNodes, statementsOf } from "../helpers/plans";

/** The node types of the plans of the statements sessionList sends for `filter`. */
async function planOf(filter: SessionListFilter): Promise<string[]> {
  return withDb(async (db) => {
    const client = await db.$client.connect();
    try {
      const types: string[] = [];
      for (const s of await statementsOf(client, (tx) => sessionList(tx, filter))) {
        await client.query("begin");
        try {
          await client.query("set local enable_sort = off");
          await client.query("set local enable_seqscan = off");
          const { rows } = await client.query<{ "QUERY PLAN": unknown }>(`explain (format json) ${s.query}`, s.params);
          types.push(...planNodes(rows[0]!["QUERY PLAN"]).map((node) => String(node["Node Type"])));
        } finally {
          await client.query("rollback");
        }
      }
      return types;
    } finally {
      client.release();
    }
  });
}

describe("a page of the session list", () => {
  beforeAll(async () => {
    await query(sql`insert into sessions (id, user_id, state, created_at)
      select 'ordered-' || i, 'user-' || (i % 7), case when i % 3 = 0 then 'running' else 'terminated' end,
        now() - i * interval '1 minute'
      from generate_series(1, 300) i`);
  });

  it("of one user's sessions is read off an index in order", async () => {
    const plan = await planOf({ userId: "user-3", limit: 50 });
    expect(plan).not.toContain("Sort");
    expect(plan).toContain("Index Scan");
  });

  it("of one user's sessions after a cursor, or in one state, is read off an index in order", async () => {
    expect(await planOf({ userId: "user-3", after: "ordered-10", limit: 50 })).not.toContain("Sort");
    expect(await planOf({ userId: "user-3", state: "running", limit: 50 })).not.toContain("Sort");
  });

  it("of every session, for an administrator, is read off an index in order, first page and after", async () => {
    expect(await planOf({ limit: 50 })).not.toContain("Sort");
    expect(await planOf({ after: "ordered-10", limit: 50 })).not.toContain("Sort");
    expect(await planOf({ state: "running", limit: 50 })).not.toContain("Sort");
  });
});
