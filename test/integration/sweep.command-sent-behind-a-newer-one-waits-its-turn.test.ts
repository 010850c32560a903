/**
 * The sweep judges the lease of the command an agent runs now: the first of its in-flight
 * commands to have gone out, not the oldest created. An older command can go out after a newer
 * one: put back to pending when its lease ran out while the newer one was pushed, or committed
 * after it. At the agent it then waits behind the newer one, unacknowledged. Judged in creation
 * order, it was sent again at every sweep once its ack lease ran out and failed after
 * max_attempts deliveries while the agent ran the newer one (a start, for minutes).
 */
import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { runSweepNow } from "../helpers/cron";
import { makeAgent, query, resetDatabase } from "../helpers/db";

type Row = { command_id: string; status: string };

/** Inserts a command of `agentId`: created `createdMinutesAgo`, sent `sentMinutesAgo` (null: no record), lease ending in `leaseMinutes`. */
async function command(agentId: string, id: string, c: { status: "sent" | "ack"; createdMinutesAgo: number; sentMinutesAgo: number | null; leaseMinutes: number }) {
  await query(sql`insert into agent_commands (command_id, agent_id, action, status, attempts, created_at, sent_at, lease_expires_at)
    values (${id}, ${agentId}, 'start_session', ${c.status}, 1, now() - make_interval(mins => ${c.createdMinutesAgo}),
      ${c.sentMinutesAgo === null ? null : sql`now() - make_interval(mins => ${c.sentMinutesAgo})`},
      now() + make_interval(mins => ${c.leaseMinutes}))`);
}

async function statuses(agentId: string): Promise<Record<string, string>> {
  const rows = await query<Row>(sql`select command_id, status from agent_commands where agent_id = ${agentId}`);
  return Object.fromEntries(rows.map((r) => [r.command_id, r.status]));
}

describe("a command sent behind a newer one", () => {
  beforeEach(resetDatabase);

  it("is not judged while the newer one, acked and running, is on its run lease", async () => {
    const { agentId } = await makeAgent();
    // The newer command went out first and runs; the older one went out after it, its ack lease long gone.
    await command(agentId, "newer-running", { status: "ack", createdMinutesAgo: 9, sentMinutesAgo: 9, leaseMinutes: 6 });
    await command(agentId, "older-waiting", { status: "sent", createdMinutesAgo: 10, sentMinutesAgo: 8, leaseMinutes: -7 });

    expect((await runSweepNow()).redelivering).toBe(0);
    expect(await statuses(agentId)).toEqual({ "newer-running": "ack", "older-waiting": "sent" });
  });

  it("waits while the one sent first is judged, when that one's lease ran out", async () => {
    const { agentId } = await makeAgent();
    await command(agentId, "newer-lost", { status: "sent", createdMinutesAgo: 9, sentMinutesAgo: 9, leaseMinutes: -8 });
    await command(agentId, "older-behind", { status: "sent", createdMinutesAgo: 10, sentMinutesAgo: 8, leaseMinutes: -7 });

    expect((await runSweepNow()).redelivering).toBe(1);
    expect(await statuses(agentId)).toEqual({ "newer-lost": "pending", "older-behind": "sent" });
  });

  it("counts a command with no record of its sending as the first", async () => {
    const { agentId } = await makeAgent();
    await command(agentId, "sent-first", { status: "ack", createdMinutesAgo: 10, sentMinutesAgo: 10, leaseMinutes: 5 });
    await command(agentId, "no-record", { status: "sent", createdMinutesAgo: 9, sentMinutesAgo: null, leaseMinutes: -1 });

    expect((await runSweepNow()).redelivering).toBe(1);
    expect(await statuses(agentId)).toEqual({ "sent-first": "ack", "no-record": "pending" });
  });
});
