import { beforeAll, describe, expect, it } from "vitest";
import { getCommand, getSessionRow, waitFor } from "../helpers/db";
import type { TestAgent } from "../helpers/db";
import { call, callJson, tokenFor } from "../helpers/http";
import { agentReadyFor } from "../helpers/ws";
import type { AgentSocket } from "../helpers/ws";

/** Plays the agent's side of one command: ack, then complete with `result`. */
async function completeNext(socket: AgentSocket, result: (payload: Record<string, any>) => Record<string, unknown>) {
  const frame = await socket.nextFrame();
  const { commandId, payload } = frame.payload;
  socket.send({ type: "ack", payload: { commandId } });
  socket.send({ type: "complete", payload: { commandId, result: result(payload) } });
  await waitFor(`${commandId} completed`, async () => ((await getCommand(commandId))?.status === "completed" ? true : undefined));
  return frame;
}

describe("stop, hibernate and wake round trips", () => {
  let agent: TestAgent;
  let socket: AgentSocket;
  let token: string;

  beforeAll(async () => {
    ({ agent, socket } = await agentReadyFor("desktop"));
    token = await tokenFor("bob");
    await waitFor("agent online", async () => {
      const res = await call("GET", `/api/v1/admin/agents/${agent.agentId}`, { token: await tokenFor("root", { admin: true }) });
      return ((await res.json()) as { status: string }).status === "online" ? true : undefined;
    });
  });

  async function runningSession(): Promise<string> {
    const created = await callJson<{ name: string }>("POST", "/api/v1/sessions", 202, {
      token,
      body: { user: "bob", template: "desktop" },
    });
    await completeNext(socket, (p) => ({ sessionId: p["sessionId"], state: "running" }));
    expect((await getSessionRow(created.name))?.state).toBe("running");
    return created.name;
  }

  it("hibernates a running session, wakes it again, then stops it", async () => {
    const id = await runningSession();

    const hib = await callJson<{ commandId: string; name: string }>("PUT", `/api/v1/sessions/${id}/hibernate`, 202, { token });
    expect(hib.name).toBe(id);
    expect((await getSessionRow(id))?.state).toBe("hibernating");
    const hibFrame = await completeNext(socket, (p) => ({ sessionId: p["sessionId"], state: "hibernated" }));
    expect(hibFrame.payload).toMatchObject({ commandId: hib.commandId, action: "hibernate_session", payload: { sessionId: id, namespace: "streamspace" } });
    expect((await getSessionRow(id))?.state).toBe("hibernated");

    const wake = await callJson<{ commandId: string }>("PUT", `/api/v1/sessions/${id}/wake`, 202, { token });
    expect((await getSessionRow(id))?.state).toBe("waking");
    await completeNext(socket, (p) => ({ sessionId: p["sessionId"], state: "running" }));
    expect((await getCommand(wake.commandId))?.status).toBe("completed");
    expect((await getSessionRow(id))?.state).toBe("running");

    const stop = await callJson<{ commandId: string; message: string }>("DELETE", `/api/v1/sessions/${id}`, 202, { token });
    expect(stop.message).toMatch(/termination requested/);
    expect((await getSessionRow(id))?.state).toBe("terminating");
    const stopFrame = await completeNext(socket, (p) => ({ sessionId: p["sessionId"], state: "terminated" }));
    expect(stopFrame.payload.action).toBe("stop_session");
    const row = await getSessionRow(id);
    expect(row?.state).toBe("terminated");
  });

  it("answers 409 for actions the session's state does not allow", async () => {
    const id = await runningSession();
    const wake = await call("PUT", `/api/v1/sessions/${id}/wake`, { token });
    expect(wake.status).toBe(409);
    expect(await wake.json()).toMatchObject({ error: "Invalid session state", code: "conflict" });

    await callJson("DELETE", `/api/v1/sessions/${id}`, 202, { token });
    const again = await call("DELETE", `/api/v1/sessions/${id}`, { token });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: "Session already terminating" });
    const hib = await call("PUT", `/api/v1/sessions/${id}/hibernate`, { token });
    expect(hib.status).toBe(409);
    await completeNext(socket, (p) => ({ sessionId: p["sessionId"], state: "terminated" }));
  });

  it("answers 404 for unknown sessions and for other users' sessions", async () => {
    const id = await runningSession();
    for (const [method, path] of [
      ["GET", `/api/v1/sessions/nope`],
      ["DELETE", `/api/v1/sessions/nope`],
      ["PUT", `/api/v1/sessions/nope/hibernate`],
      ["GET", `/api/v1/sessions/${id}`],
      ["DELETE", `/api/v1/sessions/${id}`],
    ] as const) {
      const res = await call(method, path, { token: await tokenFor("mallory") });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(await res.json()).toMatchObject({ error: "Session not found", code: "not_found" });
    }
    const list = await callJson<{ sessions: unknown[]; total: number }>("GET", "/api/v1/sessions", 200, { token: await tokenFor("mallory") });
    expect(list.total).toBe(0);
    const own = await callJson<{ sessions: Array<{ name: string }> }>("GET", "/api/v1/sessions", 200, { token });
    expect(own.sessions.map((s) => s.name)).toContain(id);
  });
});
