/**
 * A start the agent reports as run after the user's stop had ended the session brought its pod
 * back for a session shown terminated: a stop of that session is queued for the agent and sent at
 * once (migration 0015). Whether the start was still open (sent again after its lease ran out, it
 * reached the agent behind the stop) or had been superseded meanwhile. The session stays
 * terminated; a start completing for a live session queues nothing; a repeat queues no second stop.
 * A docker agent's reply names the session only: one saying it runs, which no open start or wake
 * of the agent's explains, stops a terminated session again too.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getCommand, getSessionRow, makeAgent, query, waitFor } from "../helpers/db";
import { callJson, tokenFor } from "../helpers/http";
import { startSentThenStopAcked } from "../helpers/session-flow";
import { agentReadyFor, connectAgent } from "../helpers/ws";
import type { AgentSocket } from "../helpers/ws";

async function stopsOf(sessionId: string): Promise<Array<{ command_id: string; status: string }>> {
  return query(sql`select command_id, status from agent_commands where session_id = ${sessionId} and action = 'stop_session' order by created_at, seq`);
}

/** A session's start sent, unanswered; the user's stop sent, acked and completed. Returns their ids. */
async function startThenStop(socket: AgentSocket, user: string, beforeStopCompletes: (startId: string) => Promise<void>) {
  const { name, startId, stopId } = await startSentThenStopAcked(socket, user);
  await beforeStopCompletes(startId);
  socket.send({ type: "complete", payload: { commandId: stopId, result: { sessionId: name, state: "terminated" } } });
  await waitFor("stop completed", async () => ((await getCommand(stopId))?.status === "completed" ? true : undefined));
  expect((await getSessionRow(name))?.state).toBe("terminated");
  return { name, startId, stopId };
}

describe("a start the agent ran after its session's stop", () => {
  it("still open (sent again behind the stop): a stop is queued and sent to the agent at once", async () => {
    const { socket } = await agentReadyFor("desktop");
    const { name, startId } = await startThenStop(socket, "uma", async (startId) => {
      // Its lease ran out while the agent ran the stop, and it went out again.
      await query(sql`update agent_commands set sent_at = now() + interval '1 second' where command_id = ${startId}`);
    });
    expect((await getCommand(startId))?.status).toBe("sent");

    socket.send({ type: "complete", payload: { commandId: startId, result: { sessionId: name, state: "running", podName: "uma-pod" } } });
    const again = await socket.nextFrame();
    expect(again).toMatchObject({ type: "command", payload: { action: "stop_session", payload: { sessionId: name, namespace: "streamspace" } } });
    expect((await getCommand(startId))?.status).toBe("completed");
    expect((await getSessionRow(name))?.state).toBe("terminated");
    expect((await stopsOf(name)).map((s) => s.command_id)).toContain(again.payload.commandId);

    socket.send({ type: "complete", payload: { commandId: again.payload.commandId, result: { sessionId: name, state: "terminated" } } });
    await waitFor("second stop completed", async () => ((await getCommand(again.payload.commandId))?.status === "completed" ? true : undefined));
    expect(await getSessionRow(name)).toMatchObject({ state: "terminated", pod_name: "" });
    socket.close();
  });

  it("superseded by the stop but run all the same: a stop is queued, and a repeat of its answer queues no second one", async () => {
    const { socket } = await agentReadyFor("desktop");
    const { name, startId, stopId } = await startThenStop(socket, "vera", async () => {});
    expect((await getCommand(startId))?.error_message).toBe(`superseded: the session was stopped by ${stopId}`);

    socket.send({ type: "complete", payload: { commandId: startId, result: { sessionId: name, state: "running" } } });
    const again = await socket.nextFrame();
    expect(again.payload).toMatchObject({ action: "stop_session", payload: { sessionId: name } });
    socket.send({ type: "complete", payload: { commandId: startId, result: { sessionId: name, state: "running" } } });
    socket.send({ type: "ack", payload: { commandId: again.payload.commandId } });
    await waitFor("second stop acked", async () => ((await getCommand(again.payload.commandId))?.status === "ack" ? true : undefined));
    expect((await stopsOf(name)).map((s) => s.status)).toEqual(["completed", "ack"]);
    expect((await getCommand(startId))?.status).toBe("cancelled");
    expect((await getSessionRow(name))?.state).toBe("terminated");
    socket.close();
  });

  it("is told from a start completing for a live session, which queues nothing", async () => {
    const { socket } = await agentReadyFor("desktop");
    const token = await tokenFor("wren");
    const { name } = await callJson<{ name: string }>("POST", "/api/v1/sessions", 202, { token, body: { user: "wren", template: "desktop" } });
    const startId: string = (await socket.nextFrame()).payload.commandId;
    socket.send({ type: "complete", payload: { commandId: startId, result: { sessionId: name, state: "running" } } });
    await waitFor("start completed", async () => ((await getCommand(startId))?.status === "completed" ? true : undefined));
    expect((await getSessionRow(name))?.state).toBe("running");
    expect(await stopsOf(name)).toEqual([]);
    socket.close();
  });

  it("from a docker agent, whose reply names only the session: a stop is queued, and only one", async () => {
    const { agentId, apiKey } = await makeAgent({ platform: "docker" });
    const socket = await connectAgent(agentId, apiKey);
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('dock-late', 'u', 'terminated', ${agentId}), ('dock-live', 'u', 'running', ${agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status, error_message, created_at) values
      ('cmd-dock-late-start', ${agentId}, 'dock-late', 'start_session', 'cancelled', 'superseded: the session was stopped by cmd-dock-late-stop', now() - interval '2 minutes'),
      ('cmd-dock-late-stop', ${agentId}, 'dock-late', 'stop_session', 'completed', null, now() - interval '1 minute')`);
    const running = (sessionId: string) => ({ type: "command_response", success: true, sessionId, status: "running", timestamp: Math.floor(Date.now() / 1000) });

    socket.send(running("dock-late"));
    const again = await socket.nextFrame();
    expect(again.payload).toMatchObject({ action: "stop_session", payload: { sessionId: "dock-late" } });
    socket.send(running("dock-late"));
    socket.send(running("dock-live"));
    // The docker agent's reply to the stop, which settles it: the replies before it were applied.
    socket.send({ type: "command_response", success: true, sessionId: "dock-late", status: "terminated", timestamp: Math.floor(Date.now() / 1000) });
    await waitFor("second stop completed", async () => ((await getCommand(again.payload.commandId))?.status === "completed" ? true : undefined));
    expect((await stopsOf("dock-late")).map((s) => s.status)).toEqual(["completed", "completed"]);
    expect(await stopsOf("dock-live")).toEqual([]);
    expect((await getSessionRow("dock-live"))?.state).toBe("running");
    socket.close();
  });
});
