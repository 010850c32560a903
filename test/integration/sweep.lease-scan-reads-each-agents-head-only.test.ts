/**
 * The sweep judges the lease of each agent's oldest in-flight command only: the commands queued
 * behind it wait their turn, however long ago their own lease ran out. Agents that received a
 * backlog in one push hold long queues of such rows; the scan must neither expire them nor read
 * them (migration 0019), or a backlog of 98,000 costs every sweep 170 ms of Postgres for nothing.
 */
import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { commandExpireLeases } from "../../src/db/queries/commands";
import { runSweepNow } from "../helpers/cron";
import { makeAgent, query, resetDatabase, withDb } from "../helpers/db";
import { planNodes, statementsOf } from "../helpers/plans";

const QUEUED = 300;

/** An agent running `head` (acked) with QUEUED commands sent behind it, all of their leases long gone. */
async function busyAgent(headLease: "expired" | "live"): Promise<string> {
  const { agentId } = await makeAgent();
  await query(sql`insert into agent_commands (command_id, agent_id, action, status, attempts, sent_at, created_at, lease_expires_at)
    values (${`${agentId}-head`}, ${agentId}, 'start_session', 'ack', 1, now() - interval '1 hour', now() - interval '1 hour',
      now() + ${headLease === "expired" ? sql`interval '-1 minute'` : sql`interval '10 minutes'`})`);
  await query(sql`insert into agent_commands (command_id, agent_id, action, status, attempts, sent_at, created_at, lease_expires_at)
    select ${agentId} || '-queued-' || i, ${agentId}, 'stop_session', 'sent', 1, now() - interval '1 hour',
      now() - interval '1 hour' + i * interval '1 ms', now() - interval '50 minutes'
    from generate_series(1, ${QUEUED}) i`);
  return agentId;
}

async function statusCounts(agentId: string): Promise<Record<string, number>> {
  const rows = await query<{ status: string; n: number }>(
    sql`select status, count(*)::int as n from agent_commands where agent_id = ${agentId} group by status`,
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** Rows the plan's scans of agent_commands and of its indexes returned, over all their loops. */
function rowsReadFromCommands(plan: unknown): number {
  return planNodes(plan)
    .filter((node) => node["Relation Name"] === "agent_commands" || String(node["Index Name"]).startsWith("idx_agent_commands"))
    .reduce((n, node) => n + Number(node["Actual Rows"]) * Number(node["Actual Loops"]), 0);
}

describe("the sweep's lease scan", () => {
  beforeEach(resetDatabase);

  it("expires the heads whose lease ran out and leaves the queues behind every head alone", async () => {
    const stale = [await busyAgent("expired"), await busyAgent("expired")];
    const running = [await busyAgent("live"), await busyAgent("live")];

    expect((await runSweepNow()).redelivering).toBe(2);

    for (const agentId of stale) expect(await statusCounts(agentId)).toEqual({ pending: 1, sent: QUEUED });
    for (const agentId of running) expect(await statusCounts(agentId)).toEqual({ ack: 1, sent: QUEUED });
    const [head] = await query<{ status: string }>(sql`select status from agent_commands where command_id = ${`${stale[0]}-head`}`);
    expect(head?.status).toBe("pending");
  });

  it("still expires an in-flight command that has no agent", async () => {
    await query(sql`insert into agent_commands (command_id, agent_id, action, status, attempts, lease_expires_at)
      values ('no-agent', null, 'stop_session', 'sent', 1, now() - interval '1 minute')`);
    expect((await runSweepNow()).redelivering).toBe(1);
    const [row] = await query<{ status: string }>(sql`select status from agent_commands where command_id = 'no-agent'`);
    expect(row?.status).toBe("pending");
  });

  it("reads one command per agent, not the queues behind them", async () => {
    for (let i = 0; i < 4; i++) await busyAgent(i % 2 === 0 ? "expired" : "live");
    const rowsRead = await withDb(async (db) => {
      const client = await db.$client.connect();
      try {
        const statements = await statementsOf(client, (tx) => commandExpireLeases(tx, 100));
        await client.query("begin"); // explain analyze runs the update: rolled back below
        let read = 0;
        for (const s of statements) {
          const { rows } = await client.query<{ "QUERY PLAN": unknown }>(`explain (analyze, format json) ${s.query}`, s.params);
          read += rowsReadFromCommands(rows[0]!["QUERY PLAN"]);
        }
        return read;
      } finally {
        await client.query("rollback");
        client.release();
      }
    });
    // Four agents' heads, the two expired ones fetched and checked again: a handful of rows,
    // where reading the queues takes 4 × 300.
    expect(rowsRead).toBeGreaterThan(0);
    expect(rowsRead).toBeLessThan(20);
  });
});
