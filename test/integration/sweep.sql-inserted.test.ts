import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { getCommand, makeAgent, query, waitFor } from "../helpers/db";
import { connectAgent } from "../helpers/ws";

async function runCron() {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }), env, ctx);
  await waitOnExecutionContext(ctx);
}

describe("the cron sweep", () => {
  it("delivers a command inserted by hand in SQL with a NULL session_id (BUG-P2-001)", async () => {
    const agent = await makeAgent();
    const socket = await connectAgent(agent.agentId, agent.apiKey);
    await waitFor("online", async () => ((await query<{ status: string }>(sql`select status from agents where agent_id = ${agent.agentId}`))[0]?.status === "online" ? true : undefined));

    // The seed report's exact row: upper-case action, NULL session_id, inserted behind the API's back.
    await query(sql`insert into agent_commands (command_id, agent_id, action, payload, status, created_at)
      values ('test-cross-pod-routing-1', ${agent.agentId}, 'CREATE_SESSION', '{"test": "cross-pod routing"}', 'pending',
              now() - interval '10 seconds')`);
    expect((await getCommand("test-cross-pod-routing-1"))?.status).toBe("pending");

    await runCron();

    const frame = await socket.nextFrame();
    expect(frame).toEqual({
      type: "command",
      payload: { commandId: "test-cross-pod-routing-1", action: "CREATE_SESSION", payload: { test: "cross-pod routing" } },
    });
    const row = await getCommand("test-cross-pod-routing-1");
    expect(row).toMatchObject({ status: "sent", session_id: null });
    expect(row?.sent_at).not.toBeNull();

    // The agent answers an unknown action as k8s-agent does: ack, then failed.
    socket.send({ type: "ack", payload: { commandId: "test-cross-pod-routing-1" } });
    socket.send({ type: "failed", payload: { commandId: "test-cross-pod-routing-1", error: "unknown action: CREATE_SESSION" } });
    await waitFor("failed", async () => ((await getCommand("test-cross-pod-routing-1"))?.status === "failed" ? true : undefined));
    expect((await getCommand("test-cross-pod-routing-1"))?.error_message).toBe("unknown action: CREATE_SESSION");
    socket.close();
  });

  it("leaves young commands to the fast path and sends nothing twice when two sweeps overlap", async () => {
    const agent = await makeAgent();
    const socket = await connectAgent(agent.agentId, agent.apiKey);
    await waitFor("online", async () => ((await query<{ status: string }>(sql`select status from agents where agent_id = ${agent.agentId}`))[0]?.status === "online" ? true : undefined));
    await query(sql`insert into agent_commands (command_id, agent_id, action, created_at)
      select 'cmd-overlap-' || g, ${agent.agentId}, 'stop_session', now() - interval '1 minute' + g * interval '1 millisecond'
      from generate_series(1, 20) g`);
    // Another connected agent whose only command is seconds old: the API's fast path owns it.
    const other = await makeAgent();
    const otherSocket = await connectAgent(other.agentId, other.apiKey);
    await waitFor("other online", async () => ((await query<{ status: string }>(sql`select status from agents where agent_id = ${other.agentId}`))[0]?.status === "online" ? true : undefined));
    await query(sql`insert into agent_commands (command_id, agent_id, action) values ('cmd-young', ${other.agentId}, 'stop_session')`);

    await Promise.all([runCron(), runCron()]);

    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await socket.nextFrame()).payload.commandId);
    expect(ids).toEqual(Array.from({ length: 20 }, (_, i) => `cmd-overlap-${i + 1}`));
    const counts = await query<{ agent_id: string; status: string; n: number }>(
      sql`select agent_id, status, count(*)::int as n from agent_commands
        where agent_id in (${agent.agentId}, ${other.agentId}) group by agent_id, status`,
    );
    expect(counts).toHaveLength(2);
    expect(counts).toContainEqual({ agent_id: agent.agentId, status: "sent", n: 20 });
    expect(counts).toContainEqual({ agent_id: other.agentId, status: "pending", n: 1 });
    const attempts = await query<{ max: number }>(sql`select max(attempts)::int as max from agent_commands where agent_id = ${agent.agentId}`);
    expect(attempts[0]?.max).toBe(1);
    socket.close();
    otherSocket.close();
  });
});
