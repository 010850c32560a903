/**
 * An agent gets its commands in order, re-deliveries included: while a command waits out its
 * re-delivery backoff, the agent's newer commands wait behind it, on a new socket's connect and
 * on the push of a just-created command alike. Otherwise a stop created while the start before
 * it waits would go out first: the agent stops nothing, then starts a pod for a terminated
 * session, which nothing would ever stop.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { runSweepNow } from "../helpers/cron";
import { getCommand, makeAgent, makeTemplate, query } from "../helpers/db";
import { callJson, tokenFor } from "../helpers/http";
import { connectAgent } from "../helpers/ws";

describe("a command in a re-delivery backoff", () => {
  it("holds its agent's newer commands until it has gone out again", async () => {
    await makeTemplate("desktop");
    const { agentId, apiKey } = await makeAgent();
    const token = await tokenFor("olga");
    const admin = await tokenFor("root", { admin: true });

    // The start goes out, and the socket dies before the agent answers.
    let socket = await connectAgent(agentId, apiKey);
    const session = await callJson<{ name: string }>("POST", "/api/v1/sessions", 202, { token, body: { user: "olga", template: "desktop" } });
    const start = (await socket.nextFrame()).payload.commandId as string;
    socket.close();
    await expect.poll(async () => (await query<{ status: string }>(sql`select status from agents where agent_id = ${agentId}`))[0]?.status).toBe("offline");

    // Its lease runs out: the sweep puts it back to pending behind a backoff (made long here).
    await query(sql`update agent_commands set status = 'sent', attempts = 1, sent_at = now(), lease_expires_at = now() - interval '1 second'
      where command_id = ${start}`);
    expect((await runSweepNow()).redelivering).toBe(1);
    await query(sql`update agent_commands set next_attempt_at = now() + interval '1 hour' where command_id = ${start}`);

    // The user deletes the session meanwhile: a stop, newer than the start.
    const stop = (await callJson<{ commandId: string }>("DELETE", `/api/v1/sessions/${session.name}`, 202, { token })).commandId;
    // The agent reconnects inside the backoff: nothing goes out, the stop included.
    socket = await connectAgent(agentId, apiKey);
    await expect(socket.nextFrame(300)).rejects.toThrow(/no frame/);
    // Nor is a command created now pushed past the start.
    const later = await callJson<{ commandId: string }>("POST", `/api/v1/admin/agents/${agentId}/command`, 201, {
      token: admin,
      body: { action: "stop_session", sessionId: "some-other-session" },
    });
    await expect(socket.nextFrame(300)).rejects.toThrow(/no frame/);
    expect((await getCommand(stop))?.status).toBe("pending");

    // The backoff ends: the sweep hands the agent its queue, oldest first.
    await query(sql`update agent_commands set next_attempt_at = now() - interval '1 second' where command_id = ${start}`);
    await runSweepNow();
    const order = [];
    for (let i = 0; i < 3; i++) order.push((await socket.nextFrame()).payload.commandId);
    expect(order).toEqual([start, stop, later.commandId]);
    socket.close();
  });

  it("holds nothing once its deadline has passed (the sweep expires it)", async () => {
    const { agentId, apiKey } = await makeAgent();
    await query(sql`insert into agent_commands (command_id, agent_id, action, status, attempts, next_attempt_at, expires_at, created_at) values
      ('bk-late', ${agentId}, 'stop_session', 'pending', 1, now() + interval '1 hour', now() - interval '1 second', now() - interval '1 minute'),
      ('bk-next', ${agentId}, 'stop_session', 'pending', 0, null, null, now())`);
    const socket = await connectAgent(agentId, apiKey);
    expect((await socket.nextFrame()).payload.commandId).toBe("bk-next");
    socket.close();
  });
});
