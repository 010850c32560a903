import { describe, expect, it } from "vitest";
import { getAgentRow, getCommand, makeAgent, makeTemplate, waitFor } from "../helpers/db";
import { callJson, tokenFor } from "../helpers/http";
import { connectAgent } from "../helpers/ws";

describe("a session's whole life over the real dispatch path", () => {
  it("goes from POST to Running when the agent acks, reports status and completes", async () => {
    await makeTemplate("firefox-browser", { spec: { baseImage: "lscr.io/linuxserver/firefox:latest" } });
    const agent = await makeAgent();
    const socket = await connectAgent(agent.agentId, agent.apiKey);
    await waitFor("agent online", async () => ((await getAgentRow(agent.agentId))?.status === "online" ? true : undefined));
    const alice = await tokenFor("alice");

    const created = await callJson<Record<string, any>>("POST", "/api/v1/sessions", 202, {
      token: alice,
      body: { user: "alice", template: "firefox-browser" },
    });
    expect(created.name).toMatch(/^alice-firefox-browser-[0-9a-f]{8}$/);
    expect(created).toMatchObject({
      namespace: "streamspace",
      state: "pending",
      persistentHome: true,
      resources: { memory: "2Gi", cpu: "1000m" },
      status: { phase: "Pending" },
    });

    const frame = await socket.nextFrame();
    expect(Object.keys(frame).sort()).toEqual(["payload", "type"]);
    expect(frame.type).toBe("command");
    expect(frame.payload.action).toBe("start_session");
    expect(frame.payload.payload).toMatchObject({
      sessionId: created.name,
      user: "alice",
      template: "firefox-browser",
      namespace: "streamspace",
      templateManifest: { spec: { baseImage: "lscr.io/linuxserver/firefox:latest" } },
    });
    const commandId: string = frame.payload.commandId;
    await expect.poll(async () => (await getCommand(commandId))?.status).toBe("sent");

    socket.send({ type: "ack", timestamp: new Date().toISOString(), payload: { commandId } });
    await waitFor("ack", async () => ((await getCommand(commandId))?.status === "ack" ? true : undefined));
    socket.send({
      type: "status",
      payload: { sessionId: created.name, state: "running", vncReady: true, vncPort: 3000, platformMetadata: { podName: "pod-1" } },
    });
    socket.send({ type: "complete", payload: { commandId, result: { sessionId: created.name, state: "running" } } });
    await waitFor("completed", async () => ((await getCommand(commandId))?.status === "completed" ? true : undefined));

    const shown = await waitFor("session running", async () => {
      const s = await callJson<Record<string, any>>("GET", `/api/v1/sessions/${created.name}`, 200, { token: alice });
      return s.status.phase === "Running" ? s : undefined;
    });
    expect(shown.status).toMatchObject({ url: `/api/v1/sessions/${created.name}/vnc`, podName: "pod-1" });
    expect((await getCommand(commandId))?.result).toEqual({ sessionId: created.name, state: "running" });
    socket.close();
  });
});
