/** Steps many session tests share, over a real agent socket. */
import { expect } from "vitest";
import { getCommand, waitFor } from "./db";
import { callJson, tokenFor } from "./http";
import type { AgentSocket } from "./ws";

/**
 * `user` creates a session (template "desktop"), its start is recorded sent and left unanswered;
 * the user's DELETE follows, and the agent acknowledges the stop.
 */
export async function startSentThenStopAcked(socket: AgentSocket, user: string) {
  const token = await tokenFor(user);
  const { name } = await callJson<{ name: string }>("POST", "/api/v1/sessions", 202, { token, body: { user, template: "desktop" } });
  const startId: string = (await socket.nextFrame()).payload.commandId;
  await waitFor("start recorded sent", async () => ((await getCommand(startId))?.status === "sent" ? true : undefined));
  const { commandId: stopId } = await callJson<{ commandId: string }>("DELETE", `/api/v1/sessions/${name}`, 202, { token });
  expect((await socket.nextFrame()).payload.commandId).toBe(stopId);
  socket.send({ type: "ack", payload: { commandId: stopId } });
  await waitFor("stop acked", async () => ((await getCommand(stopId))?.status === "ack" ? true : undefined));
  return { name, startId, stopId };
}
