import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getAgentRow, getCommand, makeAgent, query } from "../helpers/db";
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
  '{"type":"shutdown_ack","agentId":"x"}',
  '{"type":"ack","timestamp":{"not":"a time"},"payload":{"commandId":"cmd-x"}}',
  '{"type":"command","payload":{"commandId":"cmd-x","action":"stop_session","payload":{}}}',
  '{"type":"heartbeat","payload":{"capacity":{"maxSessions":-1}}}',
];

describe("malformed and unknown agent frames", () => {
  it("are ignored: no reply, no database write, and the connection stays open", async () => {
    const agent = await makeAgent();
    const socket = await connectAgent(agent.agentId, agent.apiKey);
    await query(sql`update agents set last_heartbeat = '2020-01-01', capacity = null where agent_id = ${agent.agentId}`);
    await query(sql`insert into agent_commands (command_id, agent_id, action, status) values ('cmd-x', ${agent.agentId}, 'stop_session', 'sent')`);
    const before = await getAgentRow(agent.agentId);

    for (const frame of MALFORMED) socket.send(frame);
    socket.ws.send(new TextEncoder().encode("\u0000\u0001binary garbage"));

    // A well-formed frame after the garbage is still handled: the socket is alive and in order.
    socket.send({ type: "ack", payload: { commandId: "cmd-x" } });
    await expect.poll(async () => (await getCommand("cmd-x"))?.status, { timeout: 5000 }).toBe("ack");
    expect(await getAgentRow(agent.agentId)).toEqual(before);
    await expect(socket.nextFrame(200)).rejects.toThrow(/no frame/);
    socket.close();
  });

  it("over 512 KiB close the socket with 1009 and take the agent offline", async () => {
    const agent = await makeAgent();
    const socket = await connectAgent(agent.agentId, agent.apiKey);
    await settle(agent.agentId);
    socket.send({ type: "heartbeat", payload: { status: "online", pad: "x".repeat(512 * 1024) } });
    expect(await socket.closed()).toBe(1009);
    await expect.poll(async () => (await getAgentRow(agent.agentId))?.status, { timeout: 5000 }).toBe("offline");
  });

  it("for another agent's command or an unknown id change nothing", async () => {
    const owner = await makeAgent();
    const intruder = await makeAgent();
    await query(sql`insert into agent_commands (command_id, agent_id, action, status) values ('cmd-owned', ${owner.agentId}, 'stop_session', 'sent')`);
    const socket = await connectAgent(intruder.agentId, intruder.apiKey);
    socket.send({ type: "ack", payload: { commandId: "cmd-owned" } });
    socket.send({ type: "complete", payload: { commandId: "cmd-owned", result: {} } });
    socket.send({ type: "failed", payload: { commandId: "cmd-owned", error: "boom" } });
    socket.send({ type: "ack", payload: { commandId: "cmd-does-not-exist" } });
    // A heartbeat after them lands once they have all been processed (frames are handled in order).
    socket.send({ type: "heartbeat", payload: { status: "online", capacity: { maxSessions: 7 } } });
    await expect.poll(async () => (await getAgentRow(intruder.agentId))?.capacity, { timeout: 5000 }).toEqual({ maxSessions: 7, cpu: "", memory: "" });
    expect(await getCommand("cmd-owned")).toMatchObject({ status: "sent", error_message: null, acknowledged_at: null });
    socket.close();
  });
});
