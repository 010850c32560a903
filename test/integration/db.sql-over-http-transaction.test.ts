/**
 * Several statements as one transaction in one HTTP request (Neon's batch, which the local
 * endpoint serves as Neon does): a Durable Object's connect work and first claim go this way, and
 * the claim must see the re-queue before it.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { isDatabaseUnavailable } from "../../src/errors";
import { query, uniqueId, withDb } from "../helpers/db";

describe("statements sent as one transaction over HTTP", () => {
  it("run in order on one connection, each seeing the ones before it, answered in order", async () => {
    const results = await withDb((db) =>
      db.overHttp.transaction([
        { text: "create temp table probe (n integer) on commit drop", params: [] },
        { text: "insert into probe values ($1), ($2)", params: [20, 22] },
        { text: "select sum(n)::text as total, count(*) as rows from probe", params: [] },
      ]),
    );
    expect(results).toHaveLength(3);
    expect(results[2]?.rows).toEqual([["42", "2"]]);
    expect(results[2]?.fields.map((f) => f.name)).toEqual(["total", "rows"]);
  });

  it("leave no trace when one fails, which fails with its Postgres error, not as an outage", async () => {
    const agentId = uniqueId("http-tx");
    const err = await withDb((db) =>
      db.overHttp.transaction([
        { text: "insert into agents (agent_id, platform, status) values ($1, 'kubernetes', 'offline')", params: [agentId] },
        { text: "select * from no_such_table", params: [] },
      ]),
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "NeonDbError", code: "42P01" });
    expect(isDatabaseUnavailable(err)).toBe(false);
    expect(await query(sql`select 1 from agents where agent_id = ${agentId}`)).toEqual([]);
  });
});
