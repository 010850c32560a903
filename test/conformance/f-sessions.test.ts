/**
 * Checklist F (spec §10), the items the session tests did not pin one by one: the rows a create
 * writes (F40), the stop's command (F44), a session with no agent (F45), what a status frame
 * stores (F47), status frames from another agent (F48), and deleting an agent that has
 * sessions (F52). The rest of F: session.lifecycle, session.actions, session.agent-selection,
 * http.bad-input and the sweep tests.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getCommand, getSessionRow, makeAgent, query } from "../helpers/db";
import { call, callJson, tokenFor } from "../helpers/http";
import { agentReadyFor, connectAgent } from "../helpers/ws";

type Row = Record<string, unknown>;

describe("F. session API", () => {
  it("[F40] writes one pending session on the selected agent and one start_session with every payload key", async () => {
    const { agent, socket } = await agentReadyFor("f40-desk");
    const token = await tokenFor("fay");
    const created = await callJson<{ name: string }>("POST", "/api/v1/sessions", 202, {
      token,
      body: { user: "fay", template: "f40-desk", resources: { memory: "4Gi", cpu: "2" }, persistentHome: false, idleTimeout: "30m", maxSessionDuration: "8h", tags: ["a"] },
    });
    const [session] = await query<Row>(sql`select state, agent_id, namespace, org_id from sessions where id = ${created.name}`);
    expect(session).toEqual({ state: "pending", agent_id: agent.agentId, namespace: "streamspace", org_id: "default-org" });
    const commands = await query<Row>(sql`select action, status, payload from agent_commands where session_id = ${created.name}`);
    expect(commands).toHaveLength(1);
    expect(commands[0]).toMatchObject({ action: "start_session" });
    expect(Object.keys(commands[0]!["payload"] as Row).sort()).toEqual(
      ["cpu", "idleTimeout", "maxSessionDuration", "memory", "namespace", "persistentHome", "sessionId", "tags", "template", "templateManifest", "user"],
    );
    expect(commands[0]!["payload"]).toMatchObject({ memory: "4Gi", cpu: "2", persistentHome: false, idleTimeout: "30m", maxSessionDuration: "8h", tags: ["a"] });
    socket.close();
  });

  it("[F44] DELETE answers {name, commandId, message}, keeps the row terminating, and enqueues stop_session {sessionId, namespace}", async () => {
    const { agentId } = await makeAgent();
    await query(sql`insert into sessions (id, user_id, state, agent_id, namespace) values ('f44-s', 'fay', 'running', ${agentId}, 'streamspace')`);
    const res = await callJson<Row>("DELETE", "/api/v1/sessions/f44-s", 202, { token: await tokenFor("fay") });
    expect(res).toMatchObject({ name: "f44-s", commandId: expect.stringMatching(/^cmd-/), message: expect.any(String) });
    expect((await getSessionRow("f44-s"))?.state).toBe("terminating");
    const cmd = await getCommand(String(res["commandId"]));
    expect(cmd).toMatchObject({ action: "stop_session", payload: { sessionId: "f44-s", namespace: "streamspace" } });
  });

  it("[F45] DELETE answers 404 for an unknown id, 409 Session not ready with no agent, 409 Session already terminating", async () => {
    const token = await tokenFor("fay");
    const { agentId } = await makeAgent();
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('f45-none', 'fay', 'running', null), ('f45-term', 'fay', 'terminated', ${agentId})`);
    expect((await call("DELETE", "/api/v1/sessions/f45-unknown", { token })).status).toBe(404);
    const none = await call("DELETE", "/api/v1/sessions/f45-none", { token });
    expect(none.status).toBe(409);
    expect(await none.json()).toMatchObject({ error: "Session not ready" });
    const term = await call("DELETE", "/api/v1/sessions/f45-term", { token });
    expect(term.status).toBe(409);
    expect(await term.json()).toMatchObject({ error: "Session already terminating" });
  });

  it("[F47] a status frame sets state, pod_name, url and last_activity; vncReady false clears the url", async () => {
    const { agentId, apiKey } = await makeAgent();
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('f47-s', 'fay', 'pending', ${agentId})`);
    const socket = await connectAgent(agentId, apiKey);
    const before = Date.now();
    socket.send({ type: "status", payload: { sessionId: "f47-s", state: "running", vncReady: true, vncPort: 3000, platformMetadata: { podName: "p-47" } } });
    await expect.poll(async () => (await getSessionRow("f47-s"))?.state).toBe("running");
    const [running] = await query<Row>(sql`select pod_name, url, last_activity from sessions where id = 'f47-s'`);
    expect(running).toMatchObject({ pod_name: "p-47", url: "/api/v1/sessions/f47-s/vnc" });
    expect(new Date(String(running?.["last_activity"])).getTime()).toBeGreaterThan(before - 5000);
    const shown = await callJson<Row>("GET", "/api/v1/sessions/f47-s", 200, { token: await tokenFor("fay") });
    expect(shown["status"]).toMatchObject({ phase: "Running", url: "/api/v1/sessions/f47-s/vnc" });

    socket.send({ type: "status", payload: { sessionId: "f47-s", state: "running", vncReady: false, platformMetadata: { podName: "p-47" } } });
    await expect.poll(async () => (await getSessionRow("f47-s"))?.url).toBe("");
    socket.close();
  });

  it("[F48] ignores a status frame for a session of another agent", async () => {
    const owner = await makeAgent();
    const other = await makeAgent();
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('f48-s', 'fay', 'pending', ${owner.agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, action, status) values ('cmd-f48-marker', ${other.agentId}, 'stop_session', 'sent')`);
    const socket = await connectAgent(other.agentId, other.apiKey);
    socket.send({ type: "status", payload: { sessionId: "f48-s", state: "running", vncReady: true, vncPort: 3000, platformMetadata: { podName: "intruder" } } });
    // Frames are applied in order: once the ack behind it has landed, the status has been seen.
    socket.send({ type: "ack", payload: { commandId: "cmd-f48-marker" } });
    await expect.poll(async () => (await getCommand("cmd-f48-marker"))?.status).toBe("ack");
    expect(await getSessionRow("f48-s")).toMatchObject({ state: "pending", pod_name: null });
    socket.close();
  });

  it("[F52] deleting an agent deletes its commands and keeps its sessions, their agent set to NULL", async () => {
    const { agentId } = await makeAgent();
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('f52-s', 'fay', 'running', ${agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action) values ('cmd-f52', ${agentId}, 'f52-s', 'hibernate_session')`);
    await callJson("DELETE", `/api/v1/admin/agents/${agentId}`, 200, { token: await tokenFor("root", { admin: true }) });
    expect(await getCommand("cmd-f52")).toBeUndefined();
    expect(await getSessionRow("f52-s")).toMatchObject({ state: "running", agent_id: null });
  });
});
