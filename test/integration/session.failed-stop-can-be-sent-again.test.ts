/**
 * A session whose stop failed (the agent answered `failed`, or an administrator cancelled it)
 * stays `terminating`: nothing says its workload is gone. The sweep sends one more stop after a
 * while, and gives up only on an agent that is gone; when that one fails too, nothing would ever
 * move the session again. A user's DELETE then sends another stop. While a stop is still open,
 * DELETE answers 409 as before.
 */
import { describe, expect, it } from "vitest";
import { getCommand, getSessionRow, waitFor } from "../helpers/db";
import { call, callJson, tokenFor } from "../helpers/http";
import { agentReadyFor } from "../helpers/ws";

describe("a terminating session whose stop failed", () => {
  it("gets another stop from DELETE, and only once no stop is open", async () => {
    const { socket } = await agentReadyFor("desktop");
    const token = await tokenFor("stella");
    const { name } = await callJson<{ name: string }>("POST", "/api/v1/sessions", 202, { token, body: { user: "stella", template: "desktop" } });
    const start = (await socket.nextFrame()).payload.commandId;
    socket.send({ type: "complete", payload: { commandId: start, result: { sessionId: name, state: "running" } } });
    await waitFor("running", async () => ((await getSessionRow(name))?.state === "running" ? true : undefined));

    const first = await callJson<{ commandId: string }>("DELETE", `/api/v1/sessions/${name}`, 202, { token });
    expect((await socket.nextFrame()).payload.commandId).toBe(first.commandId);
    // Still open: a second DELETE is refused as before.
    expect((await call("DELETE", `/api/v1/sessions/${name}`, { token })).status).toBe(409);
    socket.send({ type: "failed", payload: { commandId: first.commandId, error: "namespace is being deleted" } });
    await waitFor("stop failed", async () => ((await getCommand(first.commandId))?.status === "failed" ? true : undefined));
    expect((await getSessionRow(name))?.state).toBe("terminating");

    const again = await callJson<{ commandId: string }>("DELETE", `/api/v1/sessions/${name}`, 202, { token });
    expect(again.commandId).not.toBe(first.commandId);
    const frame = await socket.nextFrame();
    expect(frame.payload).toMatchObject({ commandId: again.commandId, action: "stop_session" });
    expect((await call("DELETE", `/api/v1/sessions/${name}`, { token })).status).toBe(409);
    socket.send({ type: "complete", payload: { commandId: again.commandId, result: { sessionId: name, state: "terminated" } } });
    await waitFor("terminated", async () => ((await getSessionRow(name))?.state === "terminated" ? true : undefined));
    socket.close();
  });
});
