/**
 * Approval is a gate: an agent registered with the bootstrap key cannot connect or send HTTP
 * heartbeats with it (403 "Agent not approved") while it awaits approval or after it was
 * rejected, so it is never online and never sent a session. Once approved, the same bootstrap key
 * connects it; a key an admin issued to a pending agent is not stopped, but a rejection stops
 * any key and closes the agent's socket, and an approval, which issues a new key, closes a socket
 * opened with the old one.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getAgentRow, uniqueId } from "../helpers/db";
import { call, callJson, randomIp, tokenFor } from "../helpers/http";
import { connectAgent } from "../helpers/ws";

/** The bootstrap key's headers, or another key's. */
const headers = (ip: string, key = env.AGENT_BOOTSTRAP_KEY) => ({ "X-Agent-API-Key": key, "CF-Connecting-IP": ip });

function register(agentId: string, ip: string) {
  return call("POST", "/api/v1/agents/register", { body: { agentId, platform: "kubernetes" }, headers: headers(ip) });
}
function upgrade(agentId: string, ip: string, key?: string) {
  return call("GET", `/api/v1/agents/connect?agent_id=${agentId}`, { headers: { Upgrade: "websocket", ...headers(ip, key) } });
}
function heartbeat(agentId: string, ip: string) {
  return call("POST", `/api/v1/agents/${agentId}/heartbeat`, { body: { status: "online", activeSessions: 0 }, headers: headers(ip) });
}

async function expectNotApproved(res: Response, approvalStatus: string) {
  expect(res.status).toBe(403);
  expect(res.webSocket ?? null).toBeNull();
  expect(await res.json()).toMatchObject({ error: "Agent not approved", approvalStatus });
}

describe("an agent's approval", () => {
  it("refuses connect and heartbeat while pending, and lets the bootstrap key connect once approved", async () => {
    const ip = randomIp();
    const agentId = uniqueId("awaiting");
    expect((await register(agentId, ip)).status).toBe(202);

    await expectNotApproved(await upgrade(agentId, ip), "pending");
    await expectNotApproved(await heartbeat(agentId, ip), "pending");
    expect(await getAgentRow(agentId)).toMatchObject({ status: "offline", approval_status: "pending" });

    await callJson("POST", `/api/v1/admin/agents/${agentId}/approve`, 200, { token: await tokenFor("root", { admin: true }) });
    const res = await upgrade(agentId, ip);
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    res.webSocket!.close(1000, "done");
  });

  it("refuses connect and heartbeat once rejected", async () => {
    const ip = randomIp();
    const agentId = uniqueId("turned-away");
    expect((await register(agentId, ip)).status).toBe(202);
    await callJson("POST", `/api/v1/admin/agents/${agentId}/reject`, 200, { token: await tokenFor("root", { admin: true }) });

    await expectNotApproved(await upgrade(agentId, ip), "rejected");
    await expectNotApproved(await heartbeat(agentId, ip), "rejected");
    expect((await getAgentRow(agentId))?.status).toBe("offline");
  });

  it("does not stop a key an admin issued to the agent itself, which is a decision already", async () => {
    const ip = randomIp();
    const agentId = uniqueId("keyed-pending");
    expect((await register(agentId, ip)).status).toBe(202);
    const { apiKey } = await callJson<{ apiKey: string }>("POST", `/api/v1/admin/agents/${agentId}/generate-key`, 200, {
      token: await tokenFor("root", { admin: true }),
    });
    const res = await upgrade(agentId, ip, apiKey);
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    res.webSocket!.close(1000, "done");
  });

  it("closes a socket opened with a key an admin issued the pending agent once its approval replaces that key", async () => {
    const ip = randomIp();
    const agentId = uniqueId("keyed-approved");
    expect((await register(agentId, ip)).status).toBe(202);
    const admin = await tokenFor("root", { admin: true });
    const { apiKey: oldKey } = await callJson<{ apiKey: string }>("POST", `/api/v1/admin/agents/${agentId}/generate-key`, 200, { token: admin });
    const socket = await connectAgent(agentId, oldKey);
    const { apiKey } = await callJson<{ apiKey: string }>("POST", `/api/v1/admin/agents/${agentId}/approve`, 200, { token: admin });
    expect(apiKey).not.toBe(oldKey);
    expect(await socket.closed()).toBe(4002);
    const refused = await upgrade(agentId, ip, oldKey);
    expect(refused.status).toBe(403);
    expect(refused.webSocket ?? null).toBeNull();
  });

  it("leaves the socket of an agent approved already open when it is approved again (404)", async () => {
    const ip = randomIp();
    const agentId = uniqueId("approved-twice");
    expect((await register(agentId, ip)).status).toBe(202);
    const admin = await tokenFor("root", { admin: true });
    const { apiKey } = await callJson<{ apiKey: string }>("POST", `/api/v1/admin/agents/${agentId}/approve`, 200, { token: admin });
    const socket = await connectAgent(agentId, apiKey);
    await callJson("POST", `/api/v1/admin/agents/${agentId}/approve`, 404, { token: admin });
    // Still its socket: it is sent a command.
    const { commandId } = await callJson<{ commandId: string }>("POST", `/api/v1/admin/agents/${agentId}/command`, 201, {
      token: admin,
      body: { action: "stop_session", sessionId: "s-twice" },
    });
    expect((await socket.nextFrame()).payload.commandId).toBe(commandId);
    socket.close();
  });

  it("stops even an agent's own key once the agent is rejected, and closes its socket", async () => {
    const ip = randomIp();
    const agentId = uniqueId("keyed-rejected");
    expect((await register(agentId, ip)).status).toBe(202);
    const admin = await tokenFor("root", { admin: true });
    const { apiKey } = await callJson<{ apiKey: string }>("POST", `/api/v1/admin/agents/${agentId}/generate-key`, 200, { token: admin });
    const socket = await connectAgent(agentId, apiKey);
    await callJson("POST", `/api/v1/admin/agents/${agentId}/reject`, 200, { token: admin });
    expect(await socket.closed()).toBe(4002);
    const res = await upgrade(agentId, ip, apiKey);
    await expectNotApproved(res, "rejected");
  });
});
