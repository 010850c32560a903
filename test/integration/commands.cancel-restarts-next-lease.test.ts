/**
 * Cancelling the command an agent is working on moves the next one it was sent to the head of its
 * queue, and that one's lease starts over, as when the agent finishes a command. Sent in the same
 * batch, its lease had been running all along: the sweep would have sent it again while the
 * agent was still busy with the cancelled one, spending its attempts. Nothing tells the agent to
 * stop the cancelled command, so the new lease counts from when the cancelled one's would have
 * ended.
 */
import { sql } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { createDb } from "../../src/db/client";
import { transaction } from "../../src/db/transaction";
import { runSweepNow } from "../helpers/cron";
import { getCommand, makeAgent, query, testDbOptions, waitForLockWaiter } from "../helpers/db";
import { call, callJson, tokenFor } from "../helpers/http";

describe("cancelling the command at the head of an agent's queue", () => {
  it("restarts the lease of the sent command behind it from the end of the cancelled one's, so the sweep does not send that one again", async () => {
    const { agentId } = await makeAgent();
    const admin = await tokenFor("root", { admin: true });
    // Claimed together two minutes ago; the agent acknowledged the first and is running it.
    await query(sql`insert into agent_commands (command_id, agent_id, action, status, attempts, sent_at, lease_expires_at, created_at) values
      ('head-running', ${agentId}, 'stop_session', 'ack', 1, now() - interval '2 minutes', now() + interval '10 minutes', now() - interval '2 minutes'),
      ('next-sent', ${agentId}, 'stop_session', 'sent', 1, now() - interval '2 minutes', now() - interval '1 minute', now() - interval '2 minutes')`);
    await callJson("POST", "/api/v1/admin/commands/head-running/cancel", 200, { token: admin });

    expect((await runSweepNow()).redelivering).toBe(0);
    const next = await getCommand("next-sent");
    expect(next).toMatchObject({ status: "sent", attempts: 1 });
    const [lease] = await query<{ left: number }>(sql`select extract(epoch from lease_expires_at - now())::int as left from agent_commands where command_id = 'next-sent'`);
    // The cancelled command's run lease had 10 minutes left; then ACK_LEASE_SECONDS = 60.
    expect(lease?.left).toBeGreaterThan(650);
    expect(lease?.left).toBeLessThanOrEqual(660);
  });

  it("restarts it from the cancel when the cancelled command's lease had run out", async () => {
    const { agentId } = await makeAgent();
    const admin = await tokenFor("root", { admin: true });
    await query(sql`insert into agent_commands (command_id, agent_id, action, status, attempts, sent_at, lease_expires_at, created_at) values
      ('head-lost', ${agentId}, 'stop_session', 'sent', 1, now() - interval '2 minutes', now() - interval '1 minute', now() - interval '2 minutes'),
      ('next-behind', ${agentId}, 'stop_session', 'sent', 1, now() - interval '2 minutes', now() - interval '1 minute', now() - interval '2 minutes')`);
    await callJson("POST", "/api/v1/admin/commands/head-lost/cancel", 200, { token: admin });
    expect((await runSweepNow()).redelivering).toBe(0);
    const [lease] = await query<{ left: number }>(sql`select extract(epoch from lease_expires_at - now())::int as left from agent_commands where command_id = 'next-behind'`);
    expect(lease?.left).toBeGreaterThan(50); // ACK_LEASE_SECONDS = 60, from the cancel
    expect(lease?.left).toBeLessThanOrEqual(60);
  });

  it("leaves the head's lease alone when the cancelled command was behind it", async () => {
    const { agentId } = await makeAgent();
    const admin = await tokenFor("root", { admin: true });
    await query(sql`insert into agent_commands (command_id, agent_id, action, status, attempts, sent_at, lease_expires_at, created_at) values
      ('old-head', ${agentId}, 'stop_session', 'sent', 1, now() - interval '2 minutes', now() - interval '1 minute', now() - interval '2 minutes'),
      ('behind-it', ${agentId}, 'stop_session', 'pending', 0, null, null, now())`);
    await callJson("POST", "/api/v1/admin/commands/behind-it/cancel", 200, { token: admin });
    // The head's lease had run out: the sweep judges it as before.
    expect((await runSweepNow()).redelivering).toBe(1);
    expect((await getCommand("old-head"))?.status).toBe("pending");
  });

  // Holds a transaction open while the request runs: embedded PGlite lets one through at a time.
  it.skipIf(!inject("concurrentSessions"))("counts from the lease an ack committed while the cancel waited for the row", async () => {
    const handle = createDb(testDbOptions());
    try {
      const { agentId } = await makeAgent();
      const admin = await tokenFor("root", { admin: true });
      await query(sql`insert into agent_commands (command_id, agent_id, action, status, attempts, sent_at, lease_expires_at, created_at) values
        ('head-acking', ${agentId}, 'stop_session', 'sent', 1, now() - interval '30 seconds', now() + interval '30 seconds', now() - interval '30 seconds'),
        ('next-waiting', ${agentId}, 'stop_session', 'sent', 1, now() - interval '30 seconds', now() + interval '30 seconds', now() - interval '30 seconds')`);
      const { pending } = await transaction(handle.db, async (tx) => {
        // The agent's ack: the run lease, 15 minutes.
        await tx.execute(sql`update agent_commands set status = 'ack', lease_expires_at = now() + interval '15 minutes' where command_id = 'head-acking'`);
        const pending = call("POST", "/api/v1/admin/commands/head-acking/cancel", { token: admin });
        await waitForLockWaiter("the cancel waiting on the acked row");
        return { pending }; // not awaited here: the ack commits first
      });
      expect((await pending).status).toBe(200);
      const [lease] = await query<{ left: number }>(sql`select extract(epoch from lease_expires_at - now())::int as left from agent_commands where command_id = 'next-waiting'`);
      expect(lease?.left).toBeGreaterThan(15 * 60 + 50);
    } finally {
      await handle.end();
    }
  });
});
