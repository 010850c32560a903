/** Checklist B (spec §10): framing and message handling. Item 18 (protocol pings) is Node-side. */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { HEARTBEAT_WRITE_INTERVAL_MS } from "../../src/agent/liveness";
import { getAgentRow, getCommand, getSessionRow, makeAgent, query } from "../helpers/db";
import { readMemory, rewind } from "../helpers/heartbeat-memory";
import { connectAgent, settle } from "../helpers/ws";

const MALFORMED: unknown[] = [
  "not json",
  "",
  "[]",
  "null",
  "42",
  '{"type":"heartbeat"}', // payload missing
  '{"type":"heartbeat","payload":"x"}',
  '{"type":"ack","payload":{}}',
  '{"type":"ack","payload":{"commandId":7}}',
  '{"type":"complete","payload":{"commandId":"cmd-x","result":"not an object"}}',
  '{"type":"status","payload":{"sessionId":"s"}}',
  '{"type":"nope","payload":{}}',
  '{"type":"pong"}',
  '{"type":"pong","agentId":"x"}',
  '{"type":"shutdown_ack","agentId":"x"}',
  '{"type":"command_error","error":"no command id"}',
  '{"type":"command_response","success":"yes","sessionId":"s"}',
  '{"type":"ack","timestamp":{"not":"a time"},"payload":{"commandId":"cmd-x"}}',
  '{"type":"command","payload":{"commandId":"cmd-x","action":"stop_session","payload":{}}}',
  '{"type":"heartbeat","payload":{"capacity":{"maxSessions":1.5}}}', // Go's int decoder refuses it
  '{"type":"ack","payload":{"commandId":"cmd-x"}}{"type":"ack","payload":{"commandId":"cmd-x"}}',
];

async function insertCommands(agentId: string, n: number, prefix: string) {
  await query(sql`insert into agent_commands (command_id, agent_id, action, payload)
    select ${prefix} || g, ${agentId}, 'stop_session', null from generate_series(1, ${n}) g`);
}

describe("B. framing and message handling", () => {
  it("[B12] sends each command as its own message, never joined, even when many are queued at once", async () => {
    const { agentId, apiKey } = await makeAgent();
    await insertCommands(agentId, 25, "cmd-burst-");
    const socket = await connectAgent(agentId, apiKey);
    for (let i = 1; i <= 25; i++) {
      const frame = await socket.nextFrame(); // nextFrame parses each message as exactly one JSON value
      expect(frame.payload.commandId).toBe(`cmd-burst-${i}`);
    }
    socket.close();
  });

  it("[B13][B14] writes {type:command, payload:{commandId, action, payload}} with no timestamp and {} for a NULL payload", async () => {
    const { agentId, apiKey } = await makeAgent();
    await query(sql`insert into agent_commands (command_id, agent_id, action, payload) values
      ('cmd-shape-1', ${agentId}, 'stop_session', null),
      ('cmd-shape-2', ${agentId}, 'stop_session', '{"sessionId":"s","deletePVC":false}')`);
    const socket = await connectAgent(agentId, apiKey);
    expect(await socket.nextFrame()).toStrictEqual({
      type: "command",
      payload: { commandId: "cmd-shape-1", action: "stop_session", payload: {} },
    });
    expect(await socket.nextFrame()).toStrictEqual({
      type: "command",
      payload: { commandId: "cmd-shape-2", action: "stop_session", payload: { sessionId: "s", deletePVC: false } },
    });
    socket.close();
  });

  it("[B15] accepts agent frames whose timestamp is an RFC 3339 string, null, absent, or an integer", async () => {
    const { agentId, apiKey } = await makeAgent();
    await insertCommands(agentId, 4, "cmd-ts-");
    const socket = await connectAgent(agentId, apiKey);
    const stamps = ["2025-11-22T07:14:50.1234Z", null, undefined, 1732259690];
    for (const [i, timestamp] of stamps.entries()) {
      await socket.nextFrame();
      socket.send({ type: "ack", timestamp, payload: { commandId: `cmd-ts-${i + 1}` } });
    }
    await settle(agentId);
    for (let i = 1; i <= 4; i++) await expect.poll(async () => (await getCommand(`cmd-ts-${i}`))?.status).toBe("ack");
    socket.close();
  });

  it("[B16] ignores malformed frames, unknown types and undecodable payloads: no reply, no write, socket kept", async () => {
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    await query(sql`update agents set last_heartbeat = '2020-01-01', capacity = null where agent_id = ${agentId}`);
    await query(sql`insert into agent_commands (command_id, agent_id, action, status) values ('cmd-x', ${agentId}, 'stop_session', 'sent')`);
    // A heartbeat taken for one now would count (seen moves) and be written (its stored one is stale).
    await rewind(agentId, { seen: 10_000, written: HEARTBEAT_WRITE_INTERVAL_MS });
    const seenBefore = (await readMemory(agentId)).seen;
    const before = await getAgentRow(agentId);

    for (const frame of MALFORMED) socket.send(frame);
    socket.ws.send(new TextEncoder().encode("\u0000\u0001binary garbage"));
    // A well-formed frame after the garbage is still handled: the socket is alive. Frames are
    // applied in arrival order, so once it has landed every frame before it has been seen.
    socket.ws.send(new TextEncoder().encode('{"type":"ack","payload":{"commandId":"cmd-x"}}')); // binary JSON is accepted
    await expect.poll(async () => (await getCommand("cmd-x"))?.status, { timeout: 5000 }).toBe("ack");
    expect(await getAgentRow(agentId)).toEqual(before);
    expect((await readMemory(agentId)).seen).toBe(seenBefore);
    await expect(socket.nextFrame(200)).rejects.toThrow(/no frame/);
    socket.close();
  });

  it("[B17] accepts a frame just under 512 KiB", async () => {
    const { agentId, apiKey } = await makeAgent();
    await query(sql`insert into agent_commands (command_id, agent_id, action, status) values ('cmd-big', ${agentId}, 'stop_session', 'sent')`);
    const socket = await connectAgent(agentId, apiKey);
    const frame = JSON.stringify({ type: "complete", payload: { commandId: "cmd-big", result: { log: "" } } });
    const filler = "x".repeat(512 * 1024 - frame.length);
    socket.send(frame.replace('"log":""', `"log":"${filler}"`));
    await expect.poll(async () => (await getCommand("cmd-big"))?.status, { timeout: 5000 }).toBe("completed");
    socket.close();
  });

  it("[B17] closes the socket with 1009 on a frame over 512 KiB and marks the agent offline", async () => {
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    socket.send({ type: "heartbeat", payload: { status: "online", pad: "x".repeat(512 * 1024) } });
    expect(await socket.closed()).toBe(1009);
    await expect.poll(async () => (await getAgentRow(agentId))?.status, { timeout: 5000 }).toBe("offline");
  });

  it("[B17] counts a text frame's size in UTF-8 bytes: fewer characters than 512 Ki, more bytes, closes with 1009", async () => {
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    socket.send({ type: "heartbeat", payload: { status: "online", pad: "é".repeat(300 * 1024) } });
    expect(await socket.closed()).toBe(1009);
  });

  it("ends a command failed when its failure's error text is overlong, cut to 10,000 characters", async () => {
    const { agentId, apiKey } = await makeAgent();
    await query(sql`insert into agent_commands (command_id, agent_id, action, status) values ('cmd-long-error', ${agentId}, 'stop_session', 'ack')`);
    const socket = await connectAgent(agentId, apiKey);
    socket.send({ type: "failed", payload: { commandId: "cmd-long-error", error: "k8s: ".repeat(5_000) } });
    await expect.poll(async () => (await getCommand("cmd-long-error"))?.status, { timeout: 5000 }).toBe("failed");
    expect((await getCommand("cmd-long-error"))?.error_message).toHaveLength(10_000);
    socket.close();
  });
});

describe("B. docker-agent's own replies, mapped onto the command lifecycle", () => {
  it("completes the session's in-flight command on command_response success and advances the session", async () => {
    const { agentId, apiKey } = await makeAgent({ platform: "docker" });
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('dock-s1', 'u', 'pending', ${agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, payload)
      values ('cmd-dock-1', ${agentId}, 'dock-s1', 'start_session', '{"sessionId":"dock-s1"}')`);
    const socket = await connectAgent(agentId, apiKey);
    await socket.nextFrame();
    socket.send({ type: "command_response", success: true, sessionId: "dock-s1", status: "running", container: { id: "abc", ip: "172.18.0.2" }, timestamp: 1732259690 });
    await expect.poll(async () => (await getCommand("cmd-dock-1"))?.status).toBe("completed");
    expect((await getCommand("cmd-dock-1"))?.result).toEqual({ sessionId: "dock-s1", state: "running", container: { id: "abc", ip: "172.18.0.2" } });
    expect((await getSessionRow("dock-s1"))?.state).toBe("running");
    socket.close();
  });

  it("fails the command on command_error and on command_response without success", async () => {
    const { agentId, apiKey } = await makeAgent({ platform: "docker" });
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('dock-s2', 'u', 'hibernating', ${agentId}), ('dock-s3', 'u', 'pending', ${agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action) values
      ('cmd-dock-2', ${agentId}, 'dock-s2', 'hibernate_session'), ('cmd-dock-3', ${agentId}, 'dock-s3', 'start_session')`);
    const socket = await connectAgent(agentId, apiKey);
    await socket.nextFrame();
    await socket.nextFrame();
    socket.send({ type: "command_error", commandId: "cmd-dock-2", error: "command failed: hibernation not yet implemented for Docker agent" });
    socket.send({ type: "command_response", success: false, sessionId: "dock-s3", error: "Failed to create container: no space", timestamp: 1732259690 });
    await expect.poll(async () => (await getCommand("cmd-dock-3"))?.status).toBe("failed");
    expect(await getCommand("cmd-dock-2")).toMatchObject({ status: "failed", error_message: "command failed: hibernation not yet implemented for Docker agent" });
    expect((await getCommand("cmd-dock-3"))?.error_message).toBe("Failed to create container: no space");
    expect((await getSessionRow("dock-s2"))?.state).toBe("running"); // a failed hibernate leaves it running
    expect((await getSessionRow("dock-s3"))?.state).toBe("failed");
    socket.close();
  });
});
