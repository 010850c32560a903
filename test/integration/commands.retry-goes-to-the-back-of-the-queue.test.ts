/**
 * A retried command goes to the back of its agent's queue, as a new command would: the agent
 * gets it behind what it runs now, and its lease is judged only once that is done. Kept in its
 * old place it was the agent's oldest open command, judged at once: sent again every ack lease
 * while the agent was busy with newer work, until its attempts ran out.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { runSweepNow } from "../helpers/cron";
import { getCommand, makeAgent, query } from "../helpers/db";
import { callJson, tokenFor } from "../helpers/http";

describe("retrying a failed command", () => {
  it("puts it behind the command the agent is running, whose lease alone is judged", async () => {
    const { agentId } = await makeAgent();
    const admin = await tokenFor("root", { admin: true });
    await query(sql`insert into agent_commands (command_id, agent_id, action, status, attempts, sent_at, lease_expires_at, created_at, error_message) values
      ('old-failed', ${agentId}, 'stop_session', 'failed', 5, now() - interval '10 minutes', null, now() - interval '10 minutes', 'no result'),
      ('now-running', ${agentId}, 'stop_session', 'ack', 1, now() - interval '5 minutes', now() + interval '10 minutes', now() - interval '5 minutes', null)`);
    const retried = await callJson<{ createdAt: string }>("POST", "/api/v1/admin/commands/old-failed/retry", 200, { token: admin });
    const [order] = await query<{ behind: boolean }>(sql`select (select created_at from agent_commands where command_id = 'old-failed')
      > (select created_at from agent_commands where command_id = 'now-running') as behind`);
    expect(order?.behind).toBe(true);
    expect(Date.parse(retried.createdAt)).toBeGreaterThan(Date.now() - 60_000);

    // Sent behind the running command, and unanswered for longer than an ack lease: the agent
    // is still busy with the command ahead of it, so the sweep leaves it alone.
    await query(sql`update agent_commands set status = 'sent', attempts = 1, sent_at = now() - interval '2 minutes',
      lease_expires_at = now() - interval '1 minute' where command_id = 'old-failed'`);
    expect((await runSweepNow()).redelivering).toBe(0);
    expect(await getCommand("old-failed")).toMatchObject({ status: "sent", attempts: 1 });
  });
});
