import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { runSweepNow } from "../helpers/cron";
import { getCommand, getSessionRow, makeAgent, makeTemplate, query } from "../helpers/db";
import { call, callJson, tokenFor } from "../helpers/http";
import { connectAgent, settle } from "../helpers/ws";

describe("command deadlines, cancellation and retry", () => {
  it("give API commands a per-action deadline; a command still pending past it is never sent and ends expired", async () => {
    await makeTemplate("desktop");
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    const token = await tokenFor("gina");
    const created = await callJson<{ name: string }>("POST", "/api/v1/sessions", 202, { token, body: { user: "gina", template: "desktop" } });
    const frame = await socket.nextFrame();
    const [row] = await query<{ ttl: number }>(
      sql`select extract(epoch from expires_at - created_at)::int as ttl from agent_commands where command_id = ${frame.payload.commandId}`,
    );
    expect(row?.ttl).toBe(900); // COMMAND_TTL start_session=900
    socket.send({ type: "complete", payload: { commandId: frame.payload.commandId, result: { state: "running" } } });
    await expect.poll(async () => (await getCommand(frame.payload.commandId))?.status).toBe("completed");
    socket.close();
    await expect.poll(async () => (await query<{ status: string }>(sql`select status from agents where agent_id = ${agentId}`))[0]?.status).toBe("offline");

    // A start queued for an offline agent whose deadline passes: expired, and its session failed.
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('exp-s1', 'gina', 'pending', ${agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, expires_at)
      values ('cmd-too-late', ${agentId}, 'exp-s1', 'start_session', now() - interval '1 second')`);
    expect((await runSweepNow()).expired).toBe(1);
    expect(await getCommand("cmd-too-late")).toMatchObject({ status: "expired", sent_at: null, error_message: expect.stringMatching(/deadline/) });
    expect((await getSessionRow("exp-s1"))?.state).toBe("failed");
    const again = await connectAgent(agentId, apiKey);
    await expect(again.nextFrame(300)).rejects.toThrow(/no frame/); // never sent, even on reconnect
    again.close();
    expect(created.name).toBeTruthy();
  });

  it("end a command put back after its lease ran out past its deadline expired, saying it was delivered but never answered", async () => {
    const { agentId } = await makeAgent();
    // Acknowledged 15 min ago and never answered: its run lease and its deadline both ran out.
    await query(sql`insert into agent_commands (command_id, agent_id, action, status, attempts, sent_at, lease_expires_at, created_at, expires_at)
      values ('cmd-unanswered', ${agentId}, 'wake_session', 'ack', 1, now() - interval '15 minutes', now() - interval '1 second',
        now() - interval '15 minutes', now() - interval '2 seconds')`);
    const swept = await runSweepNow();
    expect(swept).toMatchObject({ redelivering: 1, expired: 1 });
    expect(await getCommand("cmd-unanswered")).toMatchObject({ status: "expired", error_message: "deadline passed with no answer after 1 deliveries" });
  });

  it("cancel an unfinished command; the agent's late answer then changes nothing; a finished one answers 409", async () => {
    const admin = await tokenFor("root", { admin: true });
    const { agentId, apiKey } = await makeAgent();
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('can-s1', 'u', 'hibernating', ${agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action) values ('cmd-cancel-me', ${agentId}, 'can-s1', 'hibernate_session')`);
    const socket = await connectAgent(agentId, apiKey);
    await socket.nextFrame();
    const cancelled = await callJson("POST", "/api/v1/admin/commands/cmd-cancel-me/cancel", 200, { token: admin });
    expect(cancelled).toMatchObject({ status: "cancelled", errorMessage: "cancelled by an administrator" });
    expect((await getSessionRow("can-s1"))?.state).toBe("running"); // the hibernation will not happen
    socket.send({ type: "complete", payload: { commandId: "cmd-cancel-me", result: { state: "hibernated" } } });
    await settle(agentId);
    await expect.poll(async () => (await getCommand("cmd-cancel-me"))?.status).toBe("cancelled");
    const twice = await call("POST", "/api/v1/admin/commands/cmd-cancel-me/cancel", { token: admin });
    expect(twice.status).toBe(409);
    expect(await twice.json()).toMatchObject({ error: "Invalid command state", status: "cancelled" });
    expect((await call("POST", "/api/v1/admin/commands/nope/cancel", { token: admin })).status).toBe(404);
    socket.close();
  });

  it("retry a failed command as a new pending attempt, delivered again", async () => {
    const admin = await tokenFor("root", { admin: true });
    const { agentId, apiKey } = await makeAgent();
    await query(sql`insert into agent_commands (command_id, agent_id, action, status, attempts, error_message)
      values ('cmd-retry-me', ${agentId}, 'stop_session', 'failed', 5, 'boom'), ('cmd-done', ${agentId}, 'stop_session', 'completed', 1, null)`);
    const socket = await connectAgent(agentId, apiKey);
    const retried = await callJson("POST", "/api/v1/admin/commands/cmd-retry-me/retry", 200, { token: admin });
    expect(retried).toMatchObject({ status: "pending", attempts: 0 });
    expect(retried).not.toHaveProperty("errorMessage");
    expect((await socket.nextFrame()).payload.commandId).toBe("cmd-retry-me");
    expect(await getCommand("cmd-retry-me")).toMatchObject({ status: "sent", attempts: 1 });
    expect((await call("POST", "/api/v1/admin/commands/cmd-done/retry", { token: admin })).status).toBe(409);
    socket.close();
  });
});
