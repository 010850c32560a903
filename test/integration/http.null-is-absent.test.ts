/**
 * An optional field sent as null is taken as absent, as the original's decoder took it (Go
 * leaves the field's zero value) and as JavaScript clients send it. These requests were refused
 * with 400 `Validation failed`.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { makeAgent, uniqueId } from "../helpers/db";
import { call, callJson, tokenFor } from "../helpers/http";
import { agentReadyFor } from "../helpers/ws";

describe("an optional field sent as null", () => {
  it("is absent in a session create: the defaults apply", async () => {
    const { socket } = await agentReadyFor("desktop");
    const token = await tokenFor("nell");
    const session = await callJson("POST", "/api/v1/sessions", 202, {
      token,
      body: {
        user: "nell",
        template: "desktop",
        applicationId: null,
        resources: { memory: null, cpu: null },
        persistentHome: null,
        idleTimeout: null,
        maxSessionDuration: null,
        tags: null,
      },
    });
    expect(session).toMatchObject({ state: "pending", resources: { memory: "2Gi", cpu: "1000m" } });
    const bare = await callJson("POST", "/api/v1/sessions", 202, { token, body: { user: "nell", template: "desktop", resources: null } });
    expect(bare).toMatchObject({ resources: { memory: "2Gi", cpu: "1000m" } });
    socket.close();
  });

  it("is absent in an agent's registration and HTTP heartbeat", async () => {
    const agentId = uniqueId("nulls");
    const registered = await call("POST", "/api/v1/agents/register", {
      headers: { "X-Agent-API-Key": env.AGENT_BOOTSTRAP_KEY },
      body: { agentId, platform: "kubernetes", region: null, capacity: { maxSessions: null }, metadata: null },
    });
    expect(registered.status).toBe(202);
    const { agentId: approved, apiKey } = await makeAgent();
    const heartbeat = await call("POST", `/api/v1/agents/${approved}/heartbeat`, {
      headers: { "X-Agent-API-Key": apiKey },
      body: { status: "online", activeSessions: 0, capacity: null },
    });
    expect(heartbeat.status).toBe(200);
  });

  it("is absent in an admin's command", async () => {
    const { agentId } = await makeAgent();
    const admin = await tokenFor("root", { admin: true });
    const command = await callJson("POST", `/api/v1/admin/agents/${agentId}/command`, 201, {
      token: admin,
      body: { action: "stop_session", sessionId: null, payload: null },
    });
    expect(command).toMatchObject({ action: "stop_session", payload: {} });
    expect(command).not.toHaveProperty("sessionId");
  });
});
