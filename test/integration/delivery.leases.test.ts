import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { runSweepNow } from "../helpers/cron";
import { getCommand, makeAgent, query } from "../helpers/db";
import { connectAgent, settle } from "../helpers/ws";

/** Moves a command's lease (and any backoff) into the past, as if that much time had gone by. */
async function expireLease(commandId: string) {
  await query(sql`update agent_commands set lease_expires_at = now() - interval '1 second' where command_id = ${commandId}`);
}
async function endBackoff(commandId: string) {
  await query(sql`update agent_commands set next_attempt_at = now() - interval '1 second' where command_id = ${commandId} and next_attempt_at is not null`);
}

describe("delivery leases", () => {
  it("re-deliver a sent command nobody acknowledged, after a jittered backoff, counting attempts", async () => {
    const { agentId, apiKey } = await makeAgent();
    await query(sql`insert into agent_commands (command_id, agent_id, action) values ('cmd-lost-ack', ${agentId}, 'stop_session')`);
    const socket = await connectAgent(agentId, apiKey);
    expect((await socket.nextFrame()).payload.commandId).toBe("cmd-lost-ack");
    const sent = await query<{ lease: number }>(sql`select extract(epoch from lease_expires_at - sent_at)::int as lease from agent_commands where command_id = 'cmd-lost-ack'`);
    expect(sent[0]?.lease).toBe(60); // ACK_LEASE_SECONDS

    await expireLease("cmd-lost-ack");
    expect((await runSweepNow()).redelivering).toBe(1);
    const [requeued] = await query<{ status: string; wait: number }>(
      sql`select status, extract(epoch from next_attempt_at - now())::float8 as wait from agent_commands where command_id = 'cmd-lost-ack'`,
    );
    expect(requeued?.status).toBe("pending");
    expect(requeued?.wait).toBeGreaterThan(1); // first retry: 5 s × [0.5, 1)
    expect(requeued?.wait).toBeLessThanOrEqual(5);
    await runSweepNow(); // backoff not over: nothing is sent
    await expect(socket.nextFrame(200)).rejects.toThrow(/no frame/);

    await endBackoff("cmd-lost-ack");
    await runSweepNow();
    expect((await socket.nextFrame()).payload.commandId).toBe("cmd-lost-ack");
    expect(await getCommand("cmd-lost-ack")).toMatchObject({ status: "sent", attempts: 2 });
    socket.close();
  });

  it("fail a command with a clear message once max_attempts deliveries went unanswered", async () => {
    const { agentId, apiKey } = await makeAgent();
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('lease-s1', 'u', 'pending', ${agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, max_attempts) values ('cmd-give-up', ${agentId}, 'lease-s1', 'start_session', 2)`);
    const socket = await connectAgent(agentId, apiKey); // delivery 1, on connect
    expect((await socket.nextFrame()).payload.commandId).toBe("cmd-give-up");
    await expireLease("cmd-give-up");
    await runSweepNow(); // lease expired: back to pending behind a backoff
    await endBackoff("cmd-give-up");
    await runSweepNow(); // delivery 2
    expect((await socket.nextFrame()).payload.commandId).toBe("cmd-give-up");
    await expireLease("cmd-give-up");
    const result = await runSweepNow();
    expect(result.failedNoAnswer).toBe(1);
    const row = await getCommand("cmd-give-up");
    expect(row).toMatchObject({ status: "failed", attempts: 2 });
    expect(row?.error_message).toMatch(/no result after 2 deliveries/);
    const [session] = await query<{ state: string }>(sql`select state from sessions where id = 'lease-s1'`);
    expect(session?.state).toBe("failed");
    socket.close();
  });

  it("give an acknowledged command the longer run lease, then re-deliver it when that expires", async () => {
    const { agentId, apiKey } = await makeAgent();
    await query(sql`insert into agent_commands (command_id, agent_id, action) values ('cmd-slow', ${agentId}, 'start_session')`);
    const socket = await connectAgent(agentId, apiKey);
    await socket.nextFrame();
    socket.send({ type: "ack", payload: { commandId: "cmd-slow" } });
    await expect.poll(async () => (await getCommand("cmd-slow"))?.status).toBe("ack");
    const [lease] = await query<{ s: number }>(sql`select extract(epoch from lease_expires_at - acknowledged_at)::int as s from agent_commands where command_id = 'cmd-slow'`);
    expect(lease?.s).toBe(900); // RUN_LEASE_SECONDS

    await expireLease("cmd-slow");
    await runSweepNow();
    await endBackoff("cmd-slow");
    await runSweepNow();
    expect((await socket.nextFrame()).payload.commandId).toBe("cmd-slow");
    // The late answer to the first delivery still counts, once.
    socket.send({ type: "complete", payload: { commandId: "cmd-slow", result: { state: "running" } } });
    socket.send({ type: "complete", payload: { commandId: "cmd-slow", result: { state: "second" } } });
    await expect.poll(async () => (await getCommand("cmd-slow"))?.status).toBe("completed");
    await settle(agentId);
    expect((await getCommand("cmd-slow"))?.result).toEqual({ state: "running" });
    socket.close();
  });

  it("do not expire a sent command queued behind one the agent is still running", async () => {
    const { agentId, apiKey } = await makeAgent();
    await query(sql`insert into agent_commands (command_id, agent_id, action, created_at) values
      ('cmd-running', ${agentId}, 'start_session', now() - interval '2 seconds'), ('cmd-queued', ${agentId}, 'stop_session', now())`);
    const socket = await connectAgent(agentId, apiKey);
    await socket.nextFrame();
    await socket.nextFrame();
    socket.send({ type: "ack", payload: { commandId: "cmd-running" } });
    await expect.poll(async () => (await getCommand("cmd-running"))?.status).toBe("ack");
    await expireLease("cmd-queued");
    expect((await runSweepNow()).redelivering).toBe(0);
    expect((await getCommand("cmd-queued"))?.status).toBe("sent");
    socket.close();
  });
});
