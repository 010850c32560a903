/**
 * A `status` frame changes a session only to a state an agent may report (running, hibernated,
 * terminated, failed). Any other ("starting", "Running", "waking" with no wake under way) is
 * ignored: written, it left the session where no completion moves it and every user action
 * answers 409.
 */
import { describe, expect, it } from "vitest";
import { getCommand, getSessionRow, waitFor } from "../helpers/db";
import { callJson, tokenFor } from "../helpers/http";
import { agentReadyFor } from "../helpers/ws";

describe("a status frame with a state no session takes", () => {
  it("is ignored, and the start's completion still makes the session running", async () => {
    const { socket } = await agentReadyFor("desktop");
    const token = await tokenFor("vera");
    const created = await callJson<{ name: string }>("POST", "/api/v1/sessions", 202, { token, body: { user: "vera", template: "desktop" } });
    const startId: string = (await socket.nextFrame()).payload.commandId;
    for (const state of ["starting", "Running", "waking"]) {
      socket.send({ type: "status", payload: { sessionId: created.name, state, platformMetadata: { podName: "pod-x" } } });
    }
    socket.send({ type: "complete", payload: { commandId: startId, result: { sessionId: created.name, state: "running" } } });
    await waitFor("start completed", async () => ((await getCommand(startId))?.status === "completed" ? true : undefined));
    expect((await getSessionRow(created.name))?.state).toBe("running");
    socket.close();
  });
});
