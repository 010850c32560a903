import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getAgentRow, makeAgent, uniqueId } from "../helpers/db";
import { call, callJson, tokenFor } from "../helpers/http";

const k8sBody = (agentId: string) => ({
  agentId,
  platform: "kubernetes",
  region: "default",
  capacity: { maxSessions: 100, cpu: "64 cores", memory: "256Gi" },
  metadata: { namespace: "streamspace", kubernetes: true },
});

const register = (key: string | undefined, body: unknown) =>
  call("POST", "/api/v1/agents/register", { body, headers: key === undefined ? {} : { "X-Agent-API-Key": key } });

describe("agent registration", () => {
  it("puts an unknown agent using the bootstrap key in pending approval, then approves it", async () => {
    expect(env.AGENT_BOOTSTRAP_KEY).toBe("b".repeat(64)); // the test binding, not a developer's .dev.vars
    const agentId = uniqueId("new-agent");
    const first = await register(env.AGENT_BOOTSTRAP_KEY, k8sBody(agentId));
    expect(first.status).toBe(202);
    expect(await first.json()).toMatchObject({ approvalStatus: "pending", agent: { agentId, status: "offline" } });
    expect(await getAgentRow(agentId)).toMatchObject({ status: "offline", approval_status: "pending" });

    const admin = await tokenFor("root", { admin: true });
    const approved = await callJson<{ apiKey: string }>("POST", `/api/v1/admin/agents/${agentId}/approve`, 200, { token: admin });
    expect(approved.apiKey).toMatch(/^[0-9a-f]{64}$/);

    const again = await register(env.AGENT_BOOTSTRAP_KEY, k8sBody(agentId));
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ approvalStatus: "approved", agent: { agentId } });

    // With its own key the answer is the plain Agent object docker-agent expects.
    const own = await register(approved.apiKey, k8sBody(agentId));
    expect(own.status).toBe(200);
    const agent = (await own.json()) as Record<string, unknown>;
    expect(agent).toMatchObject({ agentId, platform: "kubernetes", capacity: { maxSessions: 100, cpu: "64 cores", memory: "256Gi" } });
    expect(Object.keys(agent)).toEqual(expect.arrayContaining(["id", "agentId", "platform", "status", "createdAt"]));
    expect(agent).not.toHaveProperty("apiKeyHash");
  });

  it("answers 403 rejected after an administrator rejects the agent", async () => {
    const agentId = uniqueId("rejected-agent");
    expect((await register(env.AGENT_BOOTSTRAP_KEY, k8sBody(agentId))).status).toBe(202);
    await callJson("POST", `/api/v1/admin/agents/${agentId}/reject`, 200, { token: await tokenFor("root", { admin: true }) });
    const res = await register(env.AGENT_BOOTSTRAP_KEY, k8sBody(agentId));
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ approvalStatus: "rejected" });
  });

  it("drops docker-agent's unknown capacity fields instead of rejecting them", async () => {
    const { agentId, apiKey } = await makeAgent({ platform: "docker" });
    const res = await register(apiKey, {
      agentId,
      platform: "docker",
      region: "default",
      capacity: { maxCpu: 100, maxMemory: 128, maxSessions: 100 },
      metadata: { dockerHost: "unix:///var/run/docker.sock" },
    });
    expect(res.status).toBe(200);
    expect((await getAgentRow(agentId))?.capacity).toEqual({ maxSessions: 100, cpu: "", memory: "" });
  });

  it("answers each authentication failure with its status and error", async () => {
    const { agentId, apiKey } = await makeAgent();
    const cases: Array<[string | undefined, unknown, number, string]> = [
      [undefined, k8sBody(agentId), 401, "Missing authentication"],
      ["abc", k8sBody(agentId), 401, "Invalid API key format"],
      ["z".repeat(64), k8sBody(agentId), 401, "Invalid API key format"],
      ["c".repeat(64), k8sBody(agentId), 403, "Invalid API key"],
      [apiKey, k8sBody("no-such-agent"), 404, "Agent not found"],
      [apiKey, { platform: "kubernetes" }, 400, "Missing agent_id"],
      [apiKey, { ...k8sBody(agentId), platform: "windows" }, 400, "Validation failed"],
      [apiKey, { agentId, region: "default" }, 400, "Validation failed"],
    ];
    for (const [key, body, status, error] of cases) {
      const res = await register(key, body);
      expect(res.status, `${error} (${JSON.stringify(body)})`).toBe(status);
      const json = (await res.json()) as Record<string, unknown>;
      expect(json).toMatchObject({ error });
      expect(json["requestId"]).toEqual(expect.any(String));
    }
  });

  it("refuses the WebSocket upgrade before it happens when authentication fails", async () => {
    const { agentId } = await makeAgent();
    const res = await call("GET", `/api/v1/agents/connect?agent_id=${agentId}`, {
      headers: { Upgrade: "websocket", "X-Agent-API-Key": "c".repeat(64) },
    });
    expect(res.status).toBe(403);
    expect(res.webSocket).toBeNull();
    const missing = await call("GET", `/api/v1/agents/connect?agent_id=${agentId}`, { headers: { Upgrade: "websocket" } });
    expect(missing.status).toBe(401);
  });
});
