/**
 * A start an administrator cancelled (or the sweep failed or expired for lack of an answer) left
 * its session `failed`; if the agent runs it all the same and says so, its pod runs for a session
 * that shows none. A stop of the session is queued for the agent and sent at once (migration
 * 0015); the session stays `failed`. Its pod used to run on with nothing to remove it.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getCommand, getSessionRow, query, waitFor } from "../helpers/db";
import { callJson, tokenFor } from "../helpers/http";
import { agentReadyFor } from "../helpers/ws";
import type { AgentSocket } from "../helpers/ws";

/** A session whose start the agent acked and an administrator then cancelled: it is `failed`. */
async function startCancelledWhileRunning(user: string): Promise<{ socket: AgentSocket; name: string; startId: string }> {
  const { socket } = await agentReadyFor("desktop");
  const token = await tokenFor(user);
  const { name } = await callJson<{ name: string }>("POST", "/api/v1/sessions", 202, { token, body: { user, template: "desktop" } });
  const startId: string = (await socket.nextFrame()).payload.commandId;
  socket.send({ type: "ack", payload: { commandId: startId } });
  await waitFor("start acked", async () => ((await getCommand(startId))?.status === "ack" ? true : undefined));
  await callJson("POST", `/api/v1/admin/commands/${startId}/cancel`, 200, { token: await tokenFor("root", { admin: true }) });
  expect((await getSessionRow(name))?.state).toBe("failed");
  return { socket, name, startId };
}

describe("a start the agent ran after its session failed here", () => {
  it("gets its session stopped, which stays failed", async () => {
    const { socket, name, startId } = await startCancelledWhileRunning("opal");

    // The agent was already running it: it says so.
    socket.send({ type: "complete", payload: { commandId: startId, result: { sessionId: name, state: "running" } } });
    const stop = await socket.nextFrame();
    expect(stop.payload).toMatchObject({ action: "stop_session", payload: { sessionId: name, namespace: "streamspace" } });
    const [queued] = await query<{ max_attempts: number }>(sql`select max_attempts from agent_commands where command_id = ${stop.payload.commandId}`);
    expect(queued?.max_attempts).toBe(5); // the start's
    socket.send({ type: "complete", payload: { commandId: stop.payload.commandId, result: { sessionId: name, state: "terminated" } } });
    await waitFor("stop completed", async () => ((await getCommand(stop.payload.commandId))?.status === "completed" ? true : undefined));
    expect((await getCommand(startId))?.status).toBe("cancelled");
    expect((await getSessionRow(name))?.state).toBe("failed");
    socket.close();
  });

  it("stays failed through the agent's running status before that complete, and the pod is stopped", async () => {
    const { socket, name, startId } = await startCancelledWhileRunning("pia");

    // k8s-agent's order for a start it ran: status, then complete (spec §1.8).
    socket.send({ type: "status", payload: { sessionId: name, state: "running", vncReady: true, vncPort: 5900, platformMetadata: { podName: `${name}-pod` } } });
    socket.send({ type: "complete", payload: { commandId: startId, result: { sessionId: name, state: "running" } } });
    const stop = await socket.nextFrame(); // both frames were applied: they are taken in order
    expect(stop.payload).toMatchObject({ action: "stop_session", payload: { sessionId: name } });
    expect(await getSessionRow(name)).toMatchObject({ state: "failed", pod_name: "", url: "" });
    socket.close();
  });
});
