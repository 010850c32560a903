/** Checklist C (spec §10): heartbeats and liveness, driven by the DO's alarm. */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { AgentObject } from "../../src/agent/agent-object";
import { HEARTBEAT_TIMEOUT_MS, HEARTBEAT_WRITE_INTERVAL_MS } from "../../src/agent/liveness";
import { makeAgent, makeTemplate, query } from "../helpers/db";
import { readMemory, rewind } from "../helpers/heartbeat-memory";
import { call, tokenFor } from "../helpers/http";
import { connectAgent } from "../helpers/ws";
import type { AgentSocket } from "../helpers/ws";

type AgentRecord = { status: string; last_heartbeat: Date; updated_at: Date; capacity: unknown };
const agentRow = async (agentId: string) =>
  (await query<AgentRecord>(sql`select status, last_heartbeat, updated_at, capacity from agents where agent_id = ${agentId}`))[0]!;

/** Sends a heartbeat, then an ack for a command it inserted, and waits for the ack: frames are
 * applied in order, so the heartbeat has been handled by then. */
let marker = 0;
async function heartbeat(socket: AgentSocket, agentId: string, payload: Record<string, unknown>) {
  const id = `cmd-marker-${++marker}`;
  await query(sql`insert into agent_commands (command_id, agent_id, action, status) values (${id}, ${agentId}, 'stop_session', 'sent')`);
  socket.send({ type: "heartbeat", timestamp: new Date().toISOString(), payload });
  socket.send({ type: "ack", payload: { commandId: id } });
  await expect.poll(async () => (await query<{ status: string }>(sql`select status from agent_commands where command_id = ${id}`))[0]?.status).toBe("ack");
}

const stub = (agentId: string) => env.AGENT.getByName(agentId);

describe("C. heartbeat and liveness", () => {
  it("[C19] sets online, last_heartbeat and updated_at, and replaces capacity in the original's shape", async () => {
    const { agentId, apiKey } = await makeAgent({ platform: "docker" });
    const socket = await connectAgent(agentId, apiKey);
    await query(sql`update agents set status = 'offline', last_heartbeat = now() - interval '1 hour' where agent_id = ${agentId}`);
    await rewind(agentId, { written: HEARTBEAT_WRITE_INTERVAL_MS });
    await heartbeat(socket, agentId, { status: "online", activeSessions: 0, capacity: { maxCpu: 100, maxMemory: 128, maxSessions: 100 } });
    const row = await agentRow(agentId);
    expect(row.status).toBe("online");
    expect(Date.now() - new Date(row.last_heartbeat).getTime()).toBeLessThan(5000);
    expect(Date.now() - new Date(row.updated_at).getTime()).toBeLessThan(5000);
    expect(row.capacity).toEqual({ maxSessions: 100, cpu: "", memory: "" });

    await heartbeat(socket, agentId, { status: "online", capacity: { maxSessions: 10, cpu: "8 cores", memory: "32Gi", storage: "1Ti" } });
    expect((await agentRow(agentId)).capacity).toEqual({ maxSessions: 10, cpu: "8 cores", memory: "32Gi", storage: "1Ti" });
    socket.close();
  });

  it("[C20] leaves status online for a heartbeat that says draining (the WebSocket path ignores it)", async () => {
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    await rewind(agentId, { written: HEARTBEAT_WRITE_INTERVAL_MS });
    await heartbeat(socket, agentId, { status: "draining", activeSessions: 7 });
    expect((await agentRow(agentId)).status).toBe("online");
    socket.close();
  });

  it("[C21] arms the liveness alarm 45 s after connect; an alarm that finds a newer heartbeat moves itself 45 s past it", async () => {
    const { agentId, apiKey } = await makeAgent();
    const before = Date.now();
    const socket = await connectAgent(agentId, apiKey);
    const alarmAt = async () => runInDurableObject(stub(agentId), (_o: AgentObject, state) => state.storage.getAlarm());
    const first = (await alarmAt())!;
    expect(first - before).toBeGreaterThanOrEqual(HEARTBEAT_TIMEOUT_MS);
    expect(first - Date.now()).toBeLessThanOrEqual(HEARTBEAT_TIMEOUT_MS);

    // A heartbeat 10 s "later": the alarm firing at the old deadline finds it and re-arms.
    await rewind(agentId, { seen: 10_000 });
    await heartbeat(socket, agentId, { status: "online" });
    const seen = (await readMemory(agentId)).seen;
    expect(await runDurableObjectAlarm(stub(agentId))).toBe(true);
    const next = (await alarmAt())!;
    expect(next - seen).toBe(HEARTBEAT_TIMEOUT_MS);
    expect(socket.ws.readyState).toBe(WebSocket.OPEN);
    socket.close();
  });

  it("[C21] moves the liveness alarm 45 s past a heartbeat when it was nearly due, so a live agent's alarm never fires", async () => {
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    const alarmAt = async () => runInDurableObject(stub(agentId), (_o: AgentObject, state) => state.storage.getAlarm());
    // A heartbeat soon after the last one leaves an alarm that is not nearly due where it is.
    const first = (await alarmAt())!;
    await heartbeat(socket, agentId, { status: "online" });
    expect(await alarmAt()).toBe(first);

    // The last heartbeat 30 s ago (the agents' cadence): an alarm running now re-arms 15 s ahead.
    await rewind(agentId, { seen: 30_000 });
    expect(await runDurableObjectAlarm(stub(agentId))).toBe(true);
    expect((await alarmAt())! - Date.now()).toBeLessThanOrEqual(15_000);
    // The next heartbeat moves it 45 s past itself.
    await heartbeat(socket, agentId, { status: "online" });
    const seen = (await readMemory(agentId)).seen;
    expect(await alarmAt()).toBe(seen + HEARTBEAT_TIMEOUT_MS);
    expect(socket.ws.readyState).toBe(WebSocket.OPEN);
    socket.close();
  });

  it("[C21] closes a socket silent for 45 s and marks the agent offline, without sleeping", async () => {
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    expect((await agentRow(agentId)).status).toBe("online");
    // 44 s of silence: not yet.
    await rewind(agentId, { seen: HEARTBEAT_TIMEOUT_MS - 1000 });
    expect(await runDurableObjectAlarm(stub(agentId))).toBe(true);
    expect(socket.ws.readyState).toBe(WebSocket.OPEN);
    // 45 s: closed and offline; the alarm is cleared.
    await rewind(agentId, { seen: 1000 });
    expect(await runDurableObjectAlarm(stub(agentId))).toBe(true);
    expect(await socket.closed()).toBe(4001);
    expect((await agentRow(agentId)).status).toBe("offline");
    expect(await runInDurableObject(stub(agentId), (_o: AgentObject, state) => state.storage.getAlarm())).toBeNull();
  });

  it("[C22] selects only online agents whose heartbeat is under 90 s old", async () => {
    await makeTemplate("desktop");
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    const token = await tokenFor("carol");
    const create = () => call("POST", "/api/v1/sessions", { token, body: { user: "carol", template: "desktop" } });
    await query(sql`update agents set last_heartbeat = now() - interval '91 seconds' where agent_id = ${agentId}`);
    expect((await create()).status).toBe(503);
    await query(sql`update agents set last_heartbeat = now() - interval '85 seconds' where agent_id = ${agentId}`);
    expect((await create()).status).toBe(202);
    await query(sql`update agents set status = 'draining', last_heartbeat = now() where agent_id = ${agentId}`);
    expect((await create()).status).toBe(503);
    socket.close();
  });

  it("keeps a routine heartbeat out of the object's storage: it is remembered with the socket", async () => {
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    const storage = () =>
      runInDurableObject(stub(agentId), async (_o: AgentObject, state) => ({ kv: [...state.storage.kv.list()], alarm: await state.storage.getAlarm() }));
    await heartbeat(socket, agentId, { status: "online" });
    const before = await storage();
    const seen = (await readMemory(agentId)).seen;
    await rewind(agentId, { seen: 1_000 });
    await heartbeat(socket, agentId, { status: "online", activeSessions: 1 });
    expect((await readMemory(agentId)).seen).toBeGreaterThanOrEqual(seen);
    expect(await storage()).toEqual(before);
    socket.close();
  });

  it("writes Postgres for a heartbeat only when the stored heartbeat is getting old or the capacity changed", async () => {
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    const capacity = { maxSessions: 100, cpu: "64 cores", memory: "256Gi" };
    await heartbeat(socket, agentId, { status: "online", capacity }); // new capacity: written
    const written = await agentRow(agentId);
    for (let i = 0; i < 5; i++) await heartbeat(socket, agentId, { status: "online", activeSessions: i, capacity });
    expect((await agentRow(agentId)).updated_at).toEqual(written.updated_at); // five heartbeats, no write

    await rewind(agentId, { written: HEARTBEAT_WRITE_INTERVAL_MS });
    await heartbeat(socket, agentId, { status: "online", capacity });
    expect(new Date((await agentRow(agentId)).last_heartbeat).getTime()).toBeGreaterThan(new Date(written.last_heartbeat).getTime());
    socket.close();
  });
});
