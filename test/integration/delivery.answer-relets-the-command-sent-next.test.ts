/**
 * An answer restarts the lease of the command the agent starts next: the first of its in-flight
 * commands to have gone out after the answered one, in the order the agent got them (as the
 * sweep judges them), not the oldest created. An administrator's cancel does the same for the
 * command behind the cancelled one. Taken in creation order, an older command sent behind a
 * newer one got the new lease, or was refused it (older than the cancelled one): the command
 * the agent actually started next kept its old lease, or the one behind the cancelled command
 * none, and the sweep sent it again while the agent had it.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { runSweepNow } from "../helpers/cron";
import { getCommand, makeAgent, query } from "../helpers/db";
import { callJson, tokenFor } from "../helpers/http";

/** A command of `agentId` in flight: created and sent minutes ago, its lease ending in `leaseMinutes`. */
async function inFlight(agentId: string, id: string, c: { status: "sent" | "ack"; created: number; sent: number; leaseMinutes: number }) {
  await query(sql`insert into agent_commands (command_id, agent_id, action, status, attempts, created_at, sent_at, lease_expires_at)
    values (${id}, ${agentId}, 'stop_session', ${c.status}, 1, now() - make_interval(mins => ${c.created}),
      now() - make_interval(mins => ${c.sent}), now() + make_interval(mins => ${c.leaseMinutes}))`);
}

async function leaseOf(commandId: string): Promise<number> {
  const [row] = await query<{ lease_expires_at: Date | null }>(sql`select lease_expires_at from agent_commands where command_id = ${commandId}`);
  return new Date(row!.lease_expires_at!).getTime();
}

describe("the command an agent starts next", () => {
  it("gets the new lease when the one ahead of it is answered, though an older one was sent after it", async () => {
    const { agentId } = await makeAgent();
    await inFlight(agentId, "answered", { status: "ack", created: 60, sent: 30, leaseMinutes: 5 });
    await inFlight(agentId, "sent-next", { status: "sent", created: 40, sent: 20, leaseMinutes: -19 });
    await inFlight(agentId, "older-sent-last", { status: "sent", created: 50, sent: 10, leaseMinutes: -9 });
    const beforeAnswer = Date.now();
    await query(sql`select finish_agent_command(${agentId}, 'answered', 'completed', null, null, '{}'::jsonb, null, 60, 900)`);

    expect(await leaseOf("sent-next")).toBeGreaterThan(beforeAnswer + 50_000); // the 60 s ack lease
    expect(await leaseOf("older-sent-last")).toBeLessThan(beforeAnswer);
    // The agent runs sent-next now; older-sent-last waits behind it and is not judged.
    expect((await runSweepNow()).redelivering).toBe(0);
  });

  it("gets the new lease when the one ahead of it is cancelled, though it is older than that one", async () => {
    const { agentId } = await makeAgent();
    await inFlight(agentId, "newer-running", { status: "ack", created: 9, sent: 9, leaseMinutes: 6 });
    await inFlight(agentId, "older-waiting", { status: "sent", created: 10, sent: 8, leaseMinutes: -7 });
    const admin = await tokenFor("root", { admin: true });
    await callJson("POST", "/api/v1/admin/commands/newer-running/cancel", 200, { token: admin });

    // From when the cancelled command's lease would have ended: the agent may still run it.
    expect(await leaseOf("older-waiting")).toBeGreaterThan(Date.now() + 6 * 60_000);
    expect((await runSweepNow()).redelivering).toBe(0);
    expect(await getCommand("older-waiting")).toMatchObject({ status: "sent", attempts: 1 });
  });
});
