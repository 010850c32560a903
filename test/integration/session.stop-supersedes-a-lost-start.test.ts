/**
 * A stop that ends its session cancels the session's start still open ('superseded'). The agent
 * never got the start here (or its answer was lost): re-sent once its lease ran out, it would
 * reach the agent after the stop had run and bring back a pod for a terminated session. The
 * agent's next command still gets its lease.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getCommand, getSessionRow, makeAgent, query, waitFor } from "../helpers/db";
import { callJson, tokenFor } from "../helpers/http";
import { startSentThenStopAcked } from "../helpers/session-flow";
import { agentReadyFor, connectAgent } from "../helpers/ws";

describe("a stop that ends its session", () => {
  it("cancels the session's start the agent never answered, and the next command's lease starts", async () => {
    const { socket } = await agentReadyFor("desktop");
    const token = await tokenFor("xena");
    const { name } = await callJson<{ name: string }>("POST", "/api/v1/sessions", 202, { token, body: { user: "xena", template: "desktop" } });
    const startId: string = (await socket.nextFrame()).payload.commandId; // lost: never acked
    await waitFor("start recorded sent", async () => ((await getCommand(startId))?.status === "sent" ? true : undefined));

    const { commandId: stopId } = await callJson<{ commandId: string }>("DELETE", `/api/v1/sessions/${name}`, 202, { token });
    expect((await socket.nextFrame()).payload.commandId).toBe(stopId);
    await waitFor("stop recorded sent", async () => ((await getCommand(stopId))?.status === "sent" ? true : undefined));

    // Another session's start, behind the stop: once the stop has run it is the agent's head.
    await callJson("POST", "/api/v1/sessions", 202, { token, body: { user: "xena", template: "desktop" } });
    const nextId: string = (await socket.nextFrame()).payload.commandId;
    await waitFor("next start recorded sent", async () => ((await getCommand(nextId))?.status === "sent" ? true : undefined));
    await query(sql`update agent_commands set lease_expires_at = now() where command_id = ${nextId}`);
    const beforeComplete = Date.now();
    socket.send({ type: "ack", payload: { commandId: stopId } });
    socket.send({ type: "complete", payload: { commandId: stopId, result: { sessionId: name, state: "terminated" } } });
    await waitFor("stop completed", async () => ((await getCommand(stopId))?.status === "completed" ? true : undefined));

    expect((await getSessionRow(name))?.state).toBe("terminated");
    const start = await getCommand(startId);
    expect(start).toMatchObject({ status: "cancelled", error_message: `superseded: the session was stopped by ${stopId}` });
    const [next] = await query<{ status: string; lease_expires_at: Date }>(
      sql`select status, lease_expires_at from agent_commands where command_id = ${nextId}`,
    );
    expect(next?.status).toBe("sent");
    // Its ack lease (60 s) starts over when it reaches the head, with a margin for the clocks.
    expect(new Date(next!.lease_expires_at).getTime()).toBeGreaterThan(beforeComplete + 50_000);
    socket.close();
  });

  it("cancels the session's start sent in the same batch as the stop, ahead of it", async () => {
    const { agentId, apiKey } = await makeAgent();
    // The user's delete while the agent was away: the start and the stop wait for it together.
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('batch-s1', 'zed', 'terminating', ${agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action) values ('cmd-batch-start', ${agentId}, 'batch-s1', 'start_session')`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action) values ('cmd-batch-stop', ${agentId}, 'batch-s1', 'stop_session')`);
    const socket = await connectAgent(agentId, apiKey); // one claim sends both
    expect((await socket.nextFrame()).payload.commandId).toBe("cmd-batch-start"); // lost on the agent's side
    expect((await socket.nextFrame()).payload.commandId).toBe("cmd-batch-stop");
    const [sent] = await query<{ n: number }>(sql`select count(distinct sent_at)::int as n from agent_commands where session_id = 'batch-s1'`);
    expect(sent?.n).toBe(1);

    socket.send({ type: "ack", payload: { commandId: "cmd-batch-stop" } });
    socket.send({ type: "complete", payload: { commandId: "cmd-batch-stop", result: { sessionId: "batch-s1", state: "terminated" } } });
    await waitFor("stop completed", async () => ((await getCommand("cmd-batch-stop"))?.status === "completed" ? true : undefined));
    expect(await getCommand("cmd-batch-start")).toMatchObject({ status: "cancelled", error_message: "superseded: the session was stopped by cmd-batch-stop" });
    expect((await getSessionRow("batch-s1"))?.state).toBe("terminated");
    socket.close();
  });

  it("leaves a start sent again after the stop went out (the agent has it, behind the stop), and a command created after the stop", async () => {
    const { agent, socket } = await agentReadyFor("desktop");
    const { name, startId, stopId } = await startSentThenStopAcked(socket, "yuri");
    // The start's lease ran out while the agent ran the stop, and it went out again.
    await query(sql`update agent_commands set sent_at = now() + interval '1 second' where command_id = ${startId}`);
    const admin = await tokenFor("root", { admin: true });
    const { commandId: laterId } = await callJson<{ commandId: string }>("POST", `/api/v1/admin/agents/${agent.agentId}/command`, 201, {
      token: admin,
      body: { action: "wake_session", sessionId: name },
    });
    socket.send({ type: "complete", payload: { commandId: stopId, result: { sessionId: name, state: "terminated" } } });
    await waitFor("stop completed", async () => ((await getCommand(stopId))?.status === "completed" ? true : undefined));
    expect((await getCommand(startId))?.status).toBe("sent");
    expect((await getCommand(laterId))?.status).not.toBe("cancelled");
    socket.close();
  });
});
