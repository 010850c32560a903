/**
 * A session shows the pod its agent's answers leave it with: k8s-agent sends a `status` only
 * for a start, so a hibernate's, a wake's and a stop's `complete` carry what changed. After a
 * hibernate or a stop the session shows no pod and no VNC url; after a wake, the new pod the
 * wake's result names and the VNC url again. A `status` reporting a state without a pod
 * (hibernated, terminated, failed) shows none either, whatever pod or VNC readiness it carries:
 * it stored them.
 */
import { describe, expect, it } from "vitest";
import { getCommand, getSessionRow, waitFor } from "../helpers/db";
import { callJson, tokenFor } from "../helpers/http";
import { agentReadyFor } from "../helpers/ws";
import type { AgentSocket } from "../helpers/ws";

/** Plays the agent's side of the next command: ack, then complete with `result`. */
async function completeNext(socket: AgentSocket, result: (sessionId: string) => Record<string, unknown>) {
  const { commandId, payload } = (await socket.nextFrame()).payload;
  socket.send({ type: "ack", payload: { commandId } });
  socket.send({ type: "complete", payload: { commandId, result: result(payload.sessionId) } });
  await waitFor(`${commandId} completed`, async () => ((await getCommand(commandId))?.status === "completed" ? true : undefined));
}

describe("a session's pod and url", () => {
  it("follow the start's status, and the hibernate's, wake's and stop's completions", async () => {
    const { socket } = await agentReadyFor("desktop");
    const token = await tokenFor("wren");
    const { name } = await callJson<{ name: string }>("POST", "/api/v1/sessions", 202, { token, body: { user: "wren", template: "desktop" } });
    const vnc = `/api/v1/sessions/${name}/vnc`;
    const shown = async () => {
      const row = await getSessionRow(name);
      return { state: row?.state, pod: row?.pod_name, url: row?.url };
    };

    const { commandId: startId } = (await socket.nextFrame()).payload;
    socket.send({ type: "ack", payload: { commandId: startId } });
    socket.send({ type: "status", payload: { sessionId: name, state: "running", vncReady: true, vncPort: 3000, platformMetadata: { podName: "pod-1" } } });
    socket.send({ type: "complete", payload: { commandId: startId, result: { sessionId: name, podName: "pod-1", vncPort: 3000, state: "running" } } });
    await waitFor("start completed", async () => ((await getCommand(startId))?.status === "completed" ? true : undefined));
    expect(await shown()).toEqual({ state: "running", pod: "pod-1", url: vnc });

    await callJson("PUT", `/api/v1/sessions/${name}/hibernate`, 202, { token });
    await completeNext(socket, (sessionId) => ({ sessionId, state: "hibernated" }));
    expect(await shown()).toEqual({ state: "hibernated", pod: "", url: "" });
    const hibernated = await callJson<{ status: Record<string, unknown> }>("GET", `/api/v1/sessions/${name}`, 200, { token });
    expect(hibernated.status).not.toHaveProperty("podName");

    await callJson("PUT", `/api/v1/sessions/${name}/wake`, 202, { token });
    await completeNext(socket, (sessionId) => ({ sessionId, podName: "pod-2", podIP: "10.0.0.2", vncPort: 3000, state: "running" }));
    expect(await shown()).toEqual({ state: "running", pod: "pod-2", url: vnc });

    await callJson("DELETE", `/api/v1/sessions/${name}`, 202, { token });
    await completeNext(socket, (sessionId) => ({ sessionId, state: "terminated" }));
    expect(await shown()).toEqual({ state: "terminated", pod: "", url: "" });
    socket.close();
  });

  it("are cleared by a status reporting a state without a pod, whatever it carries", async () => {
    const { socket } = await agentReadyFor("desktop");
    const token = await tokenFor("wren");
    const { name } = await callJson<{ name: string }>("POST", "/api/v1/sessions", 202, { token, body: { user: "wren", template: "desktop" } });
    const { commandId: startId } = (await socket.nextFrame()).payload;
    socket.send({ type: "ack", payload: { commandId: startId } });
    socket.send({ type: "status", payload: { sessionId: name, state: "running", vncReady: true, vncPort: 3000, platformMetadata: { podName: "pod-1" } } });
    socket.send({ type: "complete", payload: { commandId: startId, result: { sessionId: name } } });
    await waitFor("start completed", async () => ((await getCommand(startId))?.status === "completed" ? true : undefined));

    socket.send({ type: "status", payload: { sessionId: name, state: "hibernated", vncReady: true, vncPort: 3000, platformMetadata: { podName: "pod-1" } } });
    const row = await waitFor("hibernated", async () => {
      const r = await getSessionRow(name);
      return r?.state === "hibernated" ? r : undefined;
    });
    expect({ pod: row.pod_name, url: row.url }).toEqual({ pod: "", url: "" });
    socket.close();
  });
});
