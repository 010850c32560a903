/**
 * The sweep judges the lease of each agent's oldest in-flight command only: the commands queued
 * behind it wait their turn, however long ago their own lease ran out. Agents that received a
 * backlog in one push hold long queues of such rows; the scan must neither expire them nor read
 * them (migration 0019), or a backlog of 98,000 costs every sweep 170 ms of Postgres for nothing.
 */
import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, inject, it } from "vitest";
import { createDb } from "../../src/db/client";
import { commandExpireLeases } from "../../src/db/queries/commands";
import { transaction } from "../../src/db/transaction";
import { runSweepNow } from "../helpers/cron";
import { makeAgent, query, resetDatabase, testDbOptions, withDb } from "../helpers/db";
import { rowsReadFrom, statementsOf } from "../helpers/plans";

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

/** `n` commands answered long ago, of one agent: a table of a production's size to plan for. */
async function finishedCommands(n: number): Promise<void> {
  const { agentId } = await makeAgent();
  await query(sql`insert into agent_commands (command_id, agent_id, action, status, created_at, completed_at)
    select 'done-' || i, ${agentId}, 'stop_session', 'completed', now() - interval '1 day', now() - interval '1 day'
    from generate_series(1, ${n}) i`);
}

async function statusCounts(agentId: string): Promise<Record<string, number>> {
  const rows = await query<{ status: string; n: number }>(
    sql`select status, count(*)::int as n from agent_commands where agent_id = ${agentId} group by status`,
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
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
    await finishedCommands(20_000);
    for (let i = 0; i < 4; i++) await busyAgent(i % 2 === 0 ? "expired" : "live");
    await query(sql`analyze agent_commands`);
    // Four agents' heads, the two expired ones fetched and checked again: a handful of rows,
    // where reading the queues takes 4 × 300.
    const read = await rowsReadByTheScan();
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThan(20);
  });

  it("reads one command per agent even planned from statistics taken while nothing was in flight", async () => {
    // A day of commands come and gone, analysed once the last was answered: the in-flight index
    // has pages but, to the planner, no rows, so it looks cheaper than the primary key.
    await finishedCommands(20_000);
    await query(sql`update agent_commands set status = 'sent', lease_expires_at = now() + interval '1 minute' where seq % 5 = 0`);
    await query(sql`update agent_commands set status = 'completed', lease_expires_at = null where status = 'sent'`);
    await query(sql`analyze agent_commands`);
    for (let i = 0; i < 4; i++) await busyAgent(i % 2 === 0 ? "expired" : "live");
    const read = await rowsReadByTheScan();
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThan(20);
  });

  it.skipIf(!inject("concurrentSessions"))("skips a head locked elsewhere without counting it against its limit", async () => {
    const [first, second] = [await busyAgent("expired"), await busyAgent("expired")];
    await query(sql`update agent_commands set lease_expires_at = now() - interval '1 hour' where command_id = ${`${first}-head`}`);
    const handle = createDb(testDbOptions());
    try {
      const expired = await transaction(handle.db, async (tx) => {
        // Another transaction (an agent's answer, say) holds the head whose lease ran out first.
        await tx.execute(sql`select 1 from agent_commands where command_id = ${`${first}-head`} for update`);
        return withDb((db) => commandExpireLeases(db, 1));
      });
      expect(expired.map((c) => c.agentId)).toEqual([second]);
    } finally {
      await handle.end();
    }
  });
});

/** Rows the sweep's lease statement reads from agent_commands and its indexes, run and rolled back. */
async function rowsReadByTheScan(): Promise<number> {
  return withDb(async (db) => {
    const client = await db.$client.connect();
    try {
      const statements = await statementsOf(client, (tx) => commandExpireLeases(tx, 100));
      await client.query("begin"); // explain analyze runs the update: rolled back below
      let read = 0;
      for (const s of statements) {
        const { rows } = await client.query<{ "QUERY PLAN": unknown }>(`explain (analyze, format json) ${s.query}`, s.params);
        read += rowsReadFrom(rows[0]!["QUERY PLAN"], "agent_commands");
      }
      return read;
    } finally {
      await client.query("rollback");
      client.release();
    }
  });
}
