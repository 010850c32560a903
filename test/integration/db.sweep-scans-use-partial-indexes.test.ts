/**
 * The sweep's three scans of agent_commands each have a partial index that holds only the rows
 * they look for (migrations 0008, 0009, 0019 and 0022). Postgres uses a partial index only when it can prove
 * from the query text that the query's WHERE implies the index's: a scan that stated its statuses
 * as a parameter, say, would still be correct and would silently read the whole table instead,
 * on every sweep. These tests take the statements the real query functions send and ask for
 * their generic plan (the plan a prepared statement reuses, which cannot look at parameter
 * values) with the scan's index as the only one to choose.
 */
import type { PoolClient } from "@neondatabase/serverless";
import { and, inArray, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { Queryable } from "../../src/db/client";
import { commandDeleteFinished, commandExpireDeadlines, commandExpireLeases } from "../../src/db/queries/commands";
import { agentCommands } from "../../src/db/schema";
import { withDb } from "../helpers/db";
import { planNodes, statementsOf } from "../helpers/plans";
import type { Statement } from "../helpers/plans";

/**
 * The indexes the generic plan of `statement` reads when `candidate` is the table's only index
 * besides its constraints' (the others are dropped in a transaction that is rolled back), with
 * sequential scans priced out: on a test table any index that applies is as cheap as another,
 * so whether `candidate` can serve the statement is what the plan shows.
 */
async function indexesOfGenericPlan(client: PoolClient, statement: Statement, candidate: string): Promise<string[]> {
  const literal = (v: unknown) => (v === null ? "null" : `'${String(v).replaceAll("'", "''")}'`);
  await client.query("begin");
  try {
    const others = await client.query<{ name: string }>(
      `select indexrelid::regclass::text as name from pg_index i
       where indrelid = 'agent_commands'::regclass and indexrelid::regclass::text <> $1
         and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)`,
      [candidate],
    );
    for (const { name } of others.rows) await client.query(`drop index ${name}`);
    await client.query("set local plan_cache_mode = force_generic_plan");
    await client.query("set local enable_seqscan = off");
    await client.query(`prepare probe as ${statement.query}`);
    const execute = statement.params.length > 0 ? `execute probe(${statement.params.map(literal).join(", ")})` : "execute probe";
    const { rows } = await client.query<{ "QUERY PLAN": unknown }>(`explain (format json) ${execute}`);
    return planNodes(rows[0]!["QUERY PLAN"]).flatMap((node) => (typeof node["Index Name"] === "string" ? [node["Index Name"]] : []));
  } finally {
    await client.query("rollback");
    await client.query("deallocate all");
  }
}

/** Whether `index` can serve the scan: its statements' plans, each with `index` as the only choice. */
function scanCanUse(index: string, scan: (db: Queryable) => Promise<unknown>): Promise<boolean> {
  return withDb(async (db) => {
    const client = await db.$client.connect();
    try {
      const used: string[] = [];
      for (const statement of await statementsOf(client, scan)) used.push(...(await indexesOfGenericPlan(client, statement, index)));
      return used.includes(index);
    } finally {
      client.release();
    }
  });
}

describe("the sweep's scans of agent_commands", () => {
  it("find expired leases through the index of in-flight commands", async () => {
    expect(await scanCanUse("idx_agent_commands_in_flight_sent", (db) => commandExpireLeases(db, 100))).toBe(true);
  });

  it("find passed deadlines through the index of pending commands", async () => {
    expect(await scanCanUse("idx_agent_commands_deadline", (db) => commandExpireDeadlines(db, 100))).toBe(true);
  });

  it("find commands past retention through the index of finished commands", async () => {
    expect(await scanCanUse("idx_agent_commands_finished", (db) => commandDeleteFinished(db, 30, 100))).toBe(true);
  });

  it("would miss it with the statuses bound as parameters, as inArray() binds them (what the checks above tell apart)", async () => {
    const statusesBound = (db: Queryable) =>
      db
        .select({ id: agentCommands.id })
        .from(agentCommands)
        .where(and(inArray(agentCommands.status, ["sent", "ack"]), sql`${agentCommands.leaseExpiresAt} < now()`))
        .orderBy(agentCommands.agentId, sql`${agentCommands.sentAt} nulls first`, agentCommands.createdAt, agentCommands.seq);
    expect(await scanCanUse("idx_agent_commands_in_flight_sent", statusesBound)).toBe(false);
  });
});
