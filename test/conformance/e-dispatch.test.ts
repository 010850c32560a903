/** Checklist E (spec §10): command dispatch and lifecycle. Item 36 runs Node-side with the reference agent. */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { commandClaimPending } from "../../src/db/queries/commands";
import { transaction } from "../../src/db/transaction";
import { readConfig } from "../../src/env";
import worker from "../../src/index";
import { deliveryPolicy } from "../../src/lib/delivery-policy";
import { getCommand, makeAgent, makeTemplate, query, withDb } from "../helpers/db";
import { callJson, tokenFor } from "../helpers/http";
import { connectAgent, settle } from "../helpers/ws";

async function runCron() {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }), env, ctx);
  await waitOnExecutionContext(ctx);
}

const statusOf = async (id: string) => (await getCommand(id))?.status;

describe("E. command dispatch and lifecycle", () => {
  it("[E28][E29] creates a session's command pending with NULL times, and has it sent within 2 s", async () => {
    await makeTemplate("desktop");
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    const started = Date.now();
    await callJson("POST", "/api/v1/sessions", 202, { token: await tokenFor("dana"), body: { user: "dana", template: "desktop" } });
    const frame = await socket.nextFrame(2000);
    expect(Date.now() - started).toBeLessThan(2000);
    // The DO pushes first; without an ack, it records `sent` on its own after RECORD_DELAY_MS.
    await expect.poll(async () => (await getCommand(frame.payload.commandId))?.status, { timeout: 2000, interval: 50 }).toBe("sent");
    const [row] = await query<Record<string, unknown>>(sql`select * from agent_commands where command_id = ${frame.payload.commandId}`);
    expect(row).toMatchObject({ status: "sent", acknowledged_at: null, completed_at: null, error_message: null });
    expect(row?.["sent_at"]).not.toBeNull();
    const createdAt = new Date(row?.["created_at"] as string).getTime();
    expect(createdAt).toBeLessThanOrEqual(new Date(row?.["sent_at"] as string).getTime());
    expect(new Date(row?.["sent_at"] as string).getTime() - createdAt).toBeLessThan(2000);
    socket.close();
  });

  it("[E29][E31] delivers a row inserted by hand with NULL session_id, payload and error_message within one sweep", async () => {
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    // The seed report's exact row, inserted behind the API's back while the agent is connected.
    await query(sql`insert into agent_commands (command_id, agent_id, action, payload, status, created_at)
      values ('test-cross-pod-routing-1', ${agentId}, 'CREATE_SESSION', '{"test": "cross-pod routing"}', 'pending', now() - interval '10 seconds'),
             ('test-null-payload', ${agentId}, 'PING', null, 'pending', now() - interval '9 seconds')`);
    expect(await statusOf("test-cross-pod-routing-1")).toBe("pending");

    await runCron();

    expect(await socket.nextFrame()).toEqual({
      type: "command",
      payload: { commandId: "test-cross-pod-routing-1", action: "CREATE_SESSION", payload: { test: "cross-pod routing" } },
    });
    expect((await socket.nextFrame()).payload).toEqual({ commandId: "test-null-payload", action: "PING", payload: {} });
    expect(await getCommand("test-cross-pod-routing-1")).toMatchObject({ status: "sent", session_id: null });
    socket.close();
  });

  it("[E30] keeps commands for an offline agent pending and delivers them in order when it reconnects", async () => {
    const { agentId, apiKey } = await makeAgent();
    const ids = ["cmd-off-1", "cmd-off-2", "cmd-off-3"];
    for (const id of ids) {
      await query(sql`insert into agent_commands (command_id, agent_id, action, payload) values (${id}, ${agentId}, 'stop_session', ${JSON.stringify({ sessionId: id })}::jsonb)`);
    }
    await runCron();
    await settle(agentId);
    for (const id of ids) expect(await statusOf(id)).toBe("pending");

    const socket = await connectAgent(agentId, apiKey);
    const received = [];
    for (let i = 0; i < ids.length; i++) received.push((await socket.nextFrame()).payload.commandId);
    expect(received).toEqual(ids);
    socket.close();
  });

  it("[E32] sends nothing twice when two sweeps overlap, in created_at order, leaving young commands to the fast path", async () => {
    const agent = await makeAgent();
    const socket = await connectAgent(agent.agentId, agent.apiKey);
    await query(sql`insert into agent_commands (command_id, agent_id, action, created_at)
      select 'cmd-overlap-' || g, ${agent.agentId}, 'stop_session', now() - interval '1 minute' + g * interval '1 millisecond'
      from generate_series(1, 20) g`);
    const other = await makeAgent();
    const otherSocket = await connectAgent(other.agentId, other.apiKey);
    await query(sql`insert into agent_commands (command_id, agent_id, action) values ('cmd-young', ${other.agentId}, 'stop_session')`);

    await Promise.all([runCron(), runCron()]);

    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await socket.nextFrame()).payload.commandId);
    expect(ids).toEqual(Array.from({ length: 20 }, (_, i) => `cmd-overlap-${i + 1}`));
    await expect(socket.nextFrame(200)).rejects.toThrow(/no frame/);
    const [attempts] = await query<{ max: number }>(sql`select max(attempts)::int as max from agent_commands where agent_id = ${agent.agentId}`);
    expect(attempts?.max).toBe(1);
    expect(await statusOf("cmd-young")).toBe("pending");
    socket.close();
    otherSocket.close();
  });

  it("[E28] stores a new command pending, with NULL sent_at, acknowledged_at, completed_at and error_message", async () => {
    const { agentId } = await makeAgent(); // offline: nothing moves the row on
    const admin = await tokenFor("root", { admin: true });
    const created = await callJson<{ commandId: string; status: string }>("POST", `/api/v1/admin/agents/${agentId}/command`, 201, {
      token: admin,
      body: { action: "stop_session", sessionId: "e28-s" },
    });
    expect(created.status).toBe("pending");
    expect(await getCommand(created.commandId)).toMatchObject({
      status: "pending",
      sent_at: null,
      acknowledged_at: null,
      completed_at: null,
      error_message: null,
      attempts: 0,
    });
  });

  it.skipIf(!inject("concurrentSessions"))("[E32] a claim skips the commands another claim holds instead of waiting, and takes only pending ones", async () => {
    const { agentId } = await makeAgent();
    await query(sql`insert into agent_commands (command_id, agent_id, action, created_at)
      select 'cmd-held-' || g, ${agentId}, 'stop_session', now() - interval '1 minute' + g * interval '1 millisecond'
      from generate_series(1, 6) g`);
    await query(sql`update agent_commands set status = 'ack' where command_id = 'cmd-held-6'`);
    const lease = deliveryPolicy(readConfig(env));
    await withDb((holder) =>
      transaction(holder, async (tx) => {
        // Another claim's transaction, holding the three oldest.
        await tx.execute(sql`select 1 from agent_commands where command_id in ('cmd-held-1', 'cmd-held-2', 'cmd-held-3') for update`);
        const claimed = await withDb((db) =>
          Promise.race([
            commandClaimPending(db, agentId, 10, lease),
            new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the claim waited for the held rows")), 5000)),
          ]),
        );
        expect(claimed.map((c) => c.commandId)).toEqual(["cmd-held-4", "cmd-held-5"]);
      }),
    );
  });

  it("[E33][E37] records ack, complete (with its result) and failed with their timestamps", async () => {
    const { agentId, apiKey } = await makeAgent();
    await query(sql`insert into agent_commands (command_id, agent_id, action) values ('cmd-ok', ${agentId}, 'stop_session'), ('cmd-bad', ${agentId}, 'stop_session')`);
    const socket = await connectAgent(agentId, apiKey);
    socket.send({ type: "ack", payload: { commandId: "cmd-ok" } });
    socket.send({ type: "complete", payload: { commandId: "cmd-ok", result: { sessionId: "s", state: "terminated" } } });
    socket.send({ type: "ack", payload: { commandId: "cmd-bad" } });
    socket.send({ type: "failed", payload: { commandId: "cmd-bad", error: "boom" } });
    await expect.poll(() => statusOf("cmd-bad")).toBe("failed");
    const ok = await getCommand("cmd-ok");
    expect(ok).toMatchObject({ status: "completed", result: { sessionId: "s", state: "terminated" } });
    expect(ok?.acknowledged_at).not.toBeNull();
    expect(ok?.completed_at).not.toBeNull();
    const bad = await getCommand("cmd-bad");
    expect(bad).toMatchObject({ status: "failed", error_message: "boom", completed_at: null });
    expect(bad?.acknowledged_at).not.toBeNull();
    socket.close();
  });

  it("[E34] changes nothing for ack/complete/failed naming another agent's command or an unknown id", async () => {
    const owner = await makeAgent();
    const intruder = await makeAgent();
    await query(sql`insert into agent_commands (command_id, agent_id, action, status) values ('cmd-owned', ${owner.agentId}, 'stop_session', 'sent')`);
    const socket = await connectAgent(intruder.agentId, intruder.apiKey);
    await query(sql`insert into agent_commands (command_id, agent_id, action, status) values ('cmd-mine', ${intruder.agentId}, 'stop_session', 'sent')`);
    socket.send({ type: "ack", payload: { commandId: "cmd-owned" } });
    socket.send({ type: "complete", payload: { commandId: "cmd-owned", result: {} } });
    socket.send({ type: "failed", payload: { commandId: "cmd-owned", error: "boom" } });
    socket.send({ type: "ack", payload: { commandId: "cmd-does-not-exist" } });
    socket.send({ type: "ack", payload: { commandId: "cmd-mine" } }); // applied last: the others were seen by then
    await expect.poll(() => statusOf("cmd-mine")).toBe("ack");
    expect(await getCommand("cmd-owned")).toMatchObject({ status: "sent", error_message: null, acknowledged_at: null });
    await expect(socket.nextFrame(200)).rejects.toThrow(/no frame/);
    socket.close();
  });

  it("[E35] only moves status forward: late, duplicate and reordered frames never move it back", async () => {
    const { agentId, apiKey } = await makeAgent();
    await query(sql`insert into agent_commands (command_id, agent_id, action) values ('cmd-fwd', ${agentId}, 'stop_session'), ('cmd-fwd-2', ${agentId}, 'stop_session')`);
    const socket = await connectAgent(agentId, apiKey);
    socket.send({ type: "complete", payload: { commandId: "cmd-fwd", result: { n: 1 } } }); // complete before ack
    socket.send({ type: "ack", payload: { commandId: "cmd-fwd" } }); // late ack
    socket.send({ type: "failed", payload: { commandId: "cmd-fwd", error: "late" } }); // late failure
    socket.send({ type: "complete", payload: { commandId: "cmd-fwd", result: { n: 2 } } }); // duplicate
    socket.send({ type: "failed", payload: { commandId: "cmd-fwd-2", error: "first" } });
    socket.send({ type: "complete", payload: { commandId: "cmd-fwd-2" } });
    socket.send({ type: "ack", payload: { commandId: "cmd-fwd-2" } });
    await expect.poll(() => statusOf("cmd-fwd-2")).toBe("failed");
    await settle(agentId);
    expect(await getCommand("cmd-fwd")).toMatchObject({ status: "completed", result: { n: 1 }, error_message: null });
    expect(await getCommand("cmd-fwd-2")).toMatchObject({ status: "failed", error_message: "first" });

    // Marking `sent` never overwrites a later status: a re-claim finds nothing pending.
    await query(sql`update agent_commands set status = 'ack' where command_id = 'cmd-fwd-2'`);
    await settle(agentId);
    expect(await statusOf("cmd-fwd-2")).toBe("ack");
    socket.close();
  });
});
