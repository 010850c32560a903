/**
 * Sessions are kept for good, so a page of the session list must be read off an index in the
 * list's order (newest first), whatever it is filtered by, not sorted out of every matching
 * session, nor found by walking all sessions newest first and skipping those of another state:
 * a user's page would slow down with each session the user ever had, an administrator's with
 * every session there is (348 ms at 1,000,000 on a scratch database). Each page's plan is asked
 * for with sorting priced out, and run: it must not sort, and must read about a page of rows.
 */
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { sessionList } from "../../src/db/queries/sessions";
import type { SessionListFilter } from "../../src/db/queries/sessions";
import { query, withDb } from "../helpers/db";
import { planNodes, rowsReadFrom, statementsOf } from "../helpers/plans";

const PAGE = 5;

/** Whether the page's statements sort, and how many rows of sessions they read. */
async function pageCost(filter: Omit<SessionListFilter, "limit">): Promise<{ sorts: boolean; rowsRead: number }> {
  return withDb(async (db) => {
    const client = await db.$client.connect();
    try {
      const cost = { sorts: false, rowsRead: 0 };
      for (const s of await statementsOf(client, (tx) => sessionList(tx, { ...filter, limit: PAGE }))) {
        await client.query("begin");
        try {
          await client.query("set local enable_sort = off");
          await client.query("set local enable_seqscan = off");
          const { rows } = await client.query<{ "QUERY PLAN": unknown }>(`explain (analyze, format json) ${s.query}`, s.params);
          const plan = rows[0]!["QUERY PLAN"];
          cost.sorts ||= planNodes(plan).some((node) => node["Node Type"] === "Sort");
          cost.rowsRead += rowsReadFrom(plan, "sessions");
        } finally {
          await client.query("rollback");
        }
      }
      return cost;
    } finally {
      client.release();
    }
  });
}

describe("a page of the session list", () => {
  beforeAll(async () => {
    // 3,000 sessions of 100 users, newest first by i; the 21 oldest failed, a third of the rest running.
    await query(sql`insert into sessions (id, user_id, state, created_at)
      select 'ordered-' || i, 'user-' || (i % 100),
        case when i > 2979 then 'failed' when i % 3 = 0 then 'running' else 'terminated' end,
        now() - i * interval '1 minute'
      from generate_series(1, 3000) i`);
    await query(sql`analyze sessions`);
  });

  // A page's rows, and the cursor's row when there is one.
  const aboutAPage = PAGE + 2;

  it("of one user's sessions is read off an index in order", async () => {
    for (const filter of [{ userId: "user-3" }, { userId: "user-3", after: "ordered-1003" }]) {
      const cost = await pageCost(filter);
      expect(cost.sorts).toBe(false);
      expect(cost.rowsRead).toBeLessThanOrEqual(aboutAPage);
    }
  });

  it("of one user's sessions in one state is read off an index in order, the state's oldest included", async () => {
    for (const filter of [{ userId: "user-3", state: "running" }, { userId: "user-83", state: "failed" }]) {
      const cost = await pageCost(filter);
      expect(cost.sorts).toBe(false);
      expect(cost.rowsRead).toBeLessThanOrEqual(aboutAPage);
    }
  });

  it("of every session, for an administrator, is read off an index in order, first page and after", async () => {
    for (const filter of [{}, { after: "ordered-1003" }]) {
      const cost = await pageCost(filter);
      expect(cost.sorts).toBe(false);
      expect(cost.rowsRead).toBeLessThanOrEqual(aboutAPage);
    }
  });

  it("of every session in one state is read off an index in order, the state's oldest included", async () => {
    for (const filter of [{ state: "running" }, { state: "failed" }, { state: "failed", after: "ordered-2990" }]) {
      const cost = await pageCost(filter);
      expect(cost.sorts).toBe(false);
      expect(cost.rowsRead).toBeLessThanOrEqual(aboutAPage);
    }
  });
});
