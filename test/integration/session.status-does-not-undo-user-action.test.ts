/**
 * An agent's `status` frame may not undo what a user asked for. Agents run commands one at a
 * time, so the `running` status of a start can arrive after the user's delete or hibernate of
 * that session was accepted: the session must stay terminating (or hibernating) until that
 * command's own outcome, and a terminated session stays terminated.
 */
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { getCommand, getSessionRow, query, waitFor } from "../helpers/db";
import { call, callJson, tokenFor } from "../helpers/http";
import { agentReadyFor } from "../helpers/ws";
import type { AgentSocket } from "../helpers/ws";

describe("a stale status frame", () => {
  let socket: AgentSocket;
  let token: string;
  beforeAll(async () => {
    ({ socket } = await agentReadyFor("desktop"));
    token = await tokenFor("uma");
  });

  /** A session whose start the agent has acknowledged and is still running. */
  async function startedSession(): Promise<{ name: string; startId: string }> {
    const created = await callJson<{ name: string }>("POST", "/api/v1/sessions", 202, { token, body: { user: "uma", template: "desktop" } });
    const frame = await socket.nextFrame();
    const startId: string = frame.payload.commandId;
    socket.send({ type: "ack", payload: { commandId: startId } });
    await waitFor("start acked", async () => ((await getCommand(startId))?.status === "ack" ? true : undefined));
    return { name: created.name, startId };
  }

  /** The start's status and completion, reported late; returns once both are applied. */
  async function finishStartLate(name: string, startId: string): Promise<void> {
    socket.send({ type: "status", payload: { sessionId: name, state: "running", platformMetadata: { podName: "pod-late" } } });
    socket.send({ type: "complete", payload: { commandId: startId, result: { sessionId: name, state: "running" } } });
    await waitFor("start completed", async () => ((await getCommand(startId))?.status === "completed" ? true : undefined));
  }

  it("leaves a session the user is deleting terminating, and a second delete still answers 409", async () => {
    const { name, startId } = await startedSession();
    expect((await call("DELETE", `/api/v1/sessions/${name}`, { token })).status).toBe(202);
    await socket.nextFrame(); // the stop
    await finishStartLate(name, startId);
    expect((await getSessionRow(name))?.state).toBe("terminating");
    expect((await call("DELETE", `/api/v1/sessions/${name}`, { token })).status).toBe(409);
  });

  it("leaves a session the user is hibernating hibernating; the hibernate's own status still counts", async () => {
    const { name, startId } = await startedSession();
    await query(sql`update sessions set state = 'running' where id = ${name}`); // as if the start's completion had moved it
    expect((await call("PUT", `/api/v1/sessions/${name}/hibernate`, { token })).status).toBe(202);
    await socket.nextFrame(); // the hibernate
    await finishStartLate(name, startId);
    expect((await getSessionRow(name))?.state).toBe("hibernating");
    socket.send({ type: "status", payload: { sessionId: name, state: "hibernated" } });
    await waitFor("hibernated by its status", async () => ((await getSessionRow(name))?.state === "hibernated" ? true : undefined));
  });

  it("leaves a terminated session terminated", async () => {
    const { name, startId } = await startedSession();
    await query(sql`update sessions set state = 'terminated', terminated_at = now() where id = ${name}`);
    await finishStartLate(name, startId);
    expect((await getSessionRow(name))?.state).toBe("terminated");
  });
});
