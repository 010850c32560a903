/** Checklist A (spec §10): registration and authentication of agents. */
import { env } from "cloudflare:workers";
import bcrypt from "bcryptjs";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { generateApiKey } from "../../src/lib/api-key";
import { getAgentRow, makeAgent, query, uniqueId, waitFor } from "../helpers/db";
import { call, callJson, tokenFor } from "../helpers/http";
import { connectAgent, settle } from "../helpers/ws";

const k8sBody = (agentId: string) => ({
  agentId,
  platform: "kubernetes",
  region: "default",
  capacity: { maxSessions: 100, cpu: "64 cores", memory: "256Gi" },
  metadata: { namespace: "streamspace", kubernetes: true },
});

const register = (key: string | undefined, body: unknown, ip?: string) =>
  call("POST", "/api/v1/agents/register", {
    body,
    headers: { ...(key === undefined ? {} : { "X-Agent-API-Key": key }), ...(ip ? { "CF-Connecting-IP": ip } : {}) },
  });

const upgrade = (agentId: string, key?: string, ip?: string) =>
  call("GET", `/api/v1/agents/connect?agent_id=${encodeURIComponent(agentId)}`, {
    headers: { Upgrade: "websocket", ...(key ? { "X-Agent-API-Key": key } : {}), ...(ip ? { "CF-Connecting-IP": ip } : {}) },
  });

async function expectError(res: Response, status: number, error: string) {
  expect(res.status).toBe(status);
  expect(res.webSocket).toBeNull();
  expect(await res.json()).toMatchObject({ error, requestId: expect.any(String) });
}

describe("A. registration and authentication", () => {
  it("[A1] serves register and connect at the URL root, with agent_id in the query and the key in X-Agent-API-Key", async () => {
    const { agentId, apiKey } = await makeAgent();
    expect((await register(apiKey, k8sBody(agentId))).status).toBe(200);
    const res = await upgrade(agentId, apiKey);
    expect(res.status).toBe(101);
    res.webSocket?.accept();
    res.webSocket?.close();
  });

  it("[A2] answers 401 Missing authentication on both endpoints without a key, before any upgrade", async () => {
    const { agentId } = await makeAgent();
    await expectError(await register(undefined, k8sBody(agentId)), 401, "Missing authentication");
    await expectError(await upgrade(agentId), 401, "Missing authentication");
  });

  it("[A3] answers 401 Invalid API key format for keys that are not 64 hex characters", async () => {
    const { agentId } = await makeAgent();
    for (const key of ["abc", "z".repeat(64), "a".repeat(65)]) {
      await expectError(await register(key, k8sBody(agentId)), 401, "Invalid API key format");
      await expectError(await upgrade(agentId, key), 401, "Invalid API key format");
    }
  });

  it("[A4] answers 403 Invalid API key for a wrong key, 404 Agent not found for an unknown agent", async () => {
    const { agentId, apiKey } = await makeAgent();
    await expectError(await register(generateApiKey(), k8sBody(agentId)), 403, "Invalid API key");
    await expectError(await upgrade(agentId, generateApiKey()), 403, "Invalid API key");
    await expectError(await register(apiKey, k8sBody("no-such-agent")), 404, "Agent not found");
    await expectError(await upgrade("no-such-agent", apiKey), 404, "Agent not found");
  });

  it("[A5] rejects a body without agentId or platform, or with an unknown platform, with 400", async () => {
    const { agentId, apiKey } = await makeAgent();
    await expectError(await register(apiKey, { platform: "kubernetes" }), 400, "Missing agent_id");
    await expectError(await register(apiKey, { agentId, region: "default" }), 400, "Validation failed");
    await expectError(await register(apiKey, { ...k8sBody(agentId), platform: "windows" }), 400, "Validation failed");
  });

  it("[A5] ignores docker-agent's unknown capacity fields instead of rejecting them", async () => {
    const { agentId, apiKey } = await makeAgent({ platform: "docker" });
    const res = await register(apiKey, {
      agentId,
      platform: "docker",
      region: "default",
      capacity: { maxCpu: 100, maxMemory: 128, maxSessions: 100 },
      metadata: { dockerHost: "unix:///var/run/docker.sock", networkName: "streamspace", volumeDriver: "local" },
    });
    expect(res.status).toBe(200);
    expect((await getAgentRow(agentId))?.capacity).toEqual({ maxSessions: 100, cpu: "", memory: "" });
  });

  it("[A6] puts an unknown agent using the bootstrap key in pending approval (202), 200 once approved", async () => {
    expect(env.AGENT_BOOTSTRAP_KEY).toBe("b".repeat(64)); // the test binding, not a developer's .dev.vars
    const agentId = uniqueId("new-agent");
    const first = await register(env.AGENT_BOOTSTRAP_KEY, k8sBody(agentId));
    expect(first.status).toBe(202);
    expect(await first.json()).toMatchObject({ approvalStatus: "pending", message: expect.any(String), agent: { agentId, status: "offline" } });
    expect(await getAgentRow(agentId)).toMatchObject({ status: "offline", approval_status: "pending" });

    const admin = await tokenFor("root", { admin: true });
    await callJson("POST", `/api/v1/admin/agents/${agentId}/approve`, 200, { token: admin });
    const again = await register(env.AGENT_BOOTSTRAP_KEY, k8sBody(agentId));
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ approvalStatus: "approved", agent: { agentId } });
  });

  it("[A6] answers 403 rejected after an administrator rejects the agent", async () => {
    const agentId = uniqueId("rejected-agent");
    expect((await register(env.AGENT_BOOTSTRAP_KEY, k8sBody(agentId))).status).toBe(202);
    await callJson("POST", `/api/v1/admin/agents/${agentId}/reject`, 200, { token: await tokenFor("root", { admin: true }) });
    const res = await register(env.AGENT_BOOTSTRAP_KEY, k8sBody(agentId));
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ approvalStatus: "rejected" });
  });

  it("[A7] answers a register with the agent's own key with 200 and the plain Agent object", async () => {
    const { agentId, apiKey } = await makeAgent();
    const res = await register(apiKey, k8sBody(agentId));
    expect(res.status).toBe(200);
    const agent = (await res.json()) as Record<string, unknown>;
    expect(agent).toMatchObject({ agentId, platform: "kubernetes", capacity: { maxSessions: 100, cpu: "64 cores", memory: "256Gi" } });
    for (const field of ["id", "agentId", "platform", "status", "createdAt"]) expect(agent).toHaveProperty(field);
    expect(JSON.stringify(agent)).not.toMatch(/apiKey/);
  });

  it("[A8] accepts the 64-hex key an approval hands out on every later request", async () => {
    const agentId = uniqueId("approved-agent");
    expect((await register(env.AGENT_BOOTSTRAP_KEY, k8sBody(agentId))).status).toBe(202);
    const { apiKey } = await callJson<{ apiKey: string }>("POST", `/api/v1/admin/agents/${agentId}/approve`, 200, {
      token: await tokenFor("root", { admin: true }),
    });
    expect(apiKey).toMatch(/^[0-9a-f]{64}$/);
    expect((await register(apiKey, k8sBody(agentId))).status).toBe(200);
    const socket = await connectAgent(agentId, apiKey);
    socket.close();
  });

  it("[A9] answers 404 before upgrading an authenticated agent_id that has no agents row", async () => {
    await expectError(await upgrade(uniqueId("ghost"), env.AGENT_BOOTSTRAP_KEY), 404, "Agent not found");
  });

  it("[A10] sends nothing unsolicited on upgrade and has the agent online within 1 s", async () => {
    const { agentId, apiKey } = await makeAgent();
    const started = Date.now();
    const socket = await connectAgent(agentId, apiKey);
    const row = await waitFor("online", async () => {
      const r = await getAgentRow(agentId);
      return r?.status === "online" ? r : undefined;
    }, 1000);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(Math.abs(new Date(row.last_heartbeat!).getTime() - Date.now())).toBeLessThan(5000);
    await expect(socket.nextFrame(200)).rejects.toThrow(/no frame/);
    socket.close();
  });

  it("[A11] limits agent HTTP requests per client IP to 60 a minute with 429 and retryAfter; frames do not count", async () => {
    const { agentId, apiKey } = await makeAgent();
    // The limiter counts in windows aligned to the wall clock's minutes: a burst that crossed
    // one split its requests between two counts, and tested nothing. Such a burst is made once
    // more, from another address; it takes seconds, so the second cannot cross one too.
    const burst = async (ip: string) => {
      const minute = () => Math.floor(Date.now() / 60_000);
      const first = minute();
      const socketRes = await upgrade(agentId, apiKey, ip); // request 1
      const ws = socketRes.webSocket!;
      ws.accept();
      for (let i = 0; i < 200; i++) ws.send(JSON.stringify({ type: "heartbeat", payload: { status: "online" } }));
      await settle(agentId);
      const statuses: number[] = [];
      for (let i = 2; i <= 60; i++) statuses.push((await register(apiKey, k8sBody(agentId), ip)).status);
      const limited = await register(apiKey, k8sBody(agentId), ip);
      return { inOneMinute: minute() === first, statuses, limited, ws };
    };
    let run = await burst("203.0.113.7");
    if (!run.inOneMinute) {
      run.ws.close();
      run = await burst("203.0.113.9");
    }
    const { statuses, limited, ws } = run;
    expect(run.inOneMinute).toBe(true);
    expect(statuses).toEqual(Array(59).fill(200));
    expect(limited.status).toBe(429);
    expect(limited.headers.get("Retry-After")).toBe("60");
    expect(await limited.json()).toMatchObject({ error: "Rate limit exceeded", retryAfter: 60 });
    expect((await register(apiKey, k8sBody(agentId), "203.0.113.8")).status).toBe(200);
    ws.close();
  });
});

describe("A. keys and admin agent endpoints", () => {
  it("verifies a legacy bcrypt hash imported from StreamSpace once, then replaces it with the fast form", async () => {
    const { agentId } = await makeAgent();
    const key = generateApiKey();
    await query(sql`update agents set api_key_hash = ${await bcrypt.hash(key, 12)} where agent_id = ${agentId}`);
    expect((await register(key, k8sBody(agentId))).status).toBe(200);
    await expect.poll(async () => (await query<{ h: string }>(sql`select api_key_hash as h from agents where agent_id = ${agentId}`))[0]?.h).toMatch(/^sha256:/);
    expect((await register(key, k8sBody(agentId))).status).toBe(200);
  });

  it("rotates a key: the old one is refused at once and the open socket is closed", async () => {
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    const admin = await tokenFor("root", { admin: true });
    const rotated = await callJson<{ apiKey: string; rotated: boolean; usage: { header: string } }>(
      "POST", `/api/v1/admin/agents/${agentId}/rotate-key`, 200, { token: admin },
    );
    expect(rotated).toMatchObject({ rotated: true, usage: { header: "X-Agent-API-Key" } });
    expect(await socket.closed()).toBe(4002);
    expect((await register(apiKey, k8sBody(agentId))).status).toBe(403);
    expect((await register(rotated.apiKey, k8sBody(agentId))).status).toBe(200);
    const generated = await callJson<{ apiKey: string }>("POST", `/api/v1/admin/agents/${agentId}/generate-key`, 200, { token: admin });
    expect((await register(generated.apiKey, k8sBody(agentId))).status).toBe(200);
    expect((await register(rotated.apiKey, k8sBody(agentId))).status).toBe(403);
  });

  it("lists, filters, gets and deletes agents; deleting closes the socket and deletes its commands", async () => {
    const admin = await tokenFor("root", { admin: true });
    const k8s = await makeAgent();
    const docker = await makeAgent({ platform: "docker" });
    const socket = await connectAgent(docker.agentId, docker.apiKey);
    const dockers = await callJson<{ agents: Array<{ agentId: string }> }>("GET", "/api/v1/admin/agents?platform=docker&status=online", 200, { token: admin });
    expect(dockers.agents.map((a) => a.agentId)).toEqual([docker.agentId]);
    expect(await callJson("GET", `/api/v1/admin/agents/${k8s.agentId}`, 200, { token: admin })).toMatchObject({ agentId: k8s.agentId });

    await callJson("POST", `/api/v1/admin/agents/${docker.agentId}/command`, 201, { token: admin, body: { action: "stop_session", sessionId: "s-1" } });
    const deleted = await callJson("DELETE", `/api/v1/admin/agents/${docker.agentId}`, 200, { token: admin });
    expect(deleted).toMatchObject({ message: "Agent deregistered successfully", agentId: docker.agentId });
    expect(await socket.closed()).toBe(4002);
    expect((await call("GET", `/api/v1/admin/agents/${docker.agentId}`, { token: admin })).status).toBe(404);
    expect((await call("DELETE", `/api/v1/admin/agents/${docker.agentId}`, { token: admin })).status).toBe(404);
    expect(await query(sql`select 1 from agent_commands where agent_id = ${docker.agentId}`)).toHaveLength(0);
  });

  it("queues an admin command as pending for an offline agent (201) and delivers it on connect", async () => {
    const admin = await tokenFor("root", { admin: true });
    const { agentId, apiKey } = await makeAgent();
    const cmd = await callJson<Record<string, unknown>>("POST", `/api/v1/admin/agents/${agentId}/command`, 201, {
      token: admin,
      body: { action: "hibernate_session", sessionId: "sess-9" },
    });
    expect(cmd).toMatchObject({ agentId, sessionId: "sess-9", action: "hibernate_session", status: "pending", payload: { sessionId: "sess-9" } });
    expect((await call("POST", `/api/v1/admin/agents/${agentId}/command`, { token: admin, body: { action: "reboot" } })).status).toBe(400);
    expect((await call("POST", `/api/v1/admin/agents/nobody/command`, { token: admin, body: { action: "stop_session" } })).status).toBe(404);
    // With an Idempotency-Key the refusal happens inside its transaction: still 404, and no key kept.
    const keyed = { token: admin, body: { action: "stop_session" }, headers: { "Idempotency-Key": uniqueId("k") } };
    expect((await call("POST", `/api/v1/admin/agents/nobody/command`, keyed)).status).toBe(404);
    expect((await call("POST", `/api/v1/admin/agents/nobody/command`, keyed)).status).toBe(404);
    const socket = await connectAgent(agentId, apiKey);
    expect((await socket.nextFrame()).payload).toMatchObject({ commandId: cmd["commandId"], action: "hibernate_session" });
    socket.close();
  });

  it("records an HTTP heartbeat, where draining takes the agent out of selection", async () => {
    const { agentId, apiKey } = await makeAgent();
    const beat = (status: string, key = apiKey, id = agentId) =>
      call("POST", `/api/v1/agents/${id}/heartbeat`, { body: { status, activeSessions: 0 }, headers: { "X-Agent-API-Key": key } });
    const res = await beat("draining");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ message: "Heartbeat updated successfully", agentId, status: "draining" });
    expect((await getAgentRow(agentId))?.status).toBe("draining");
    expect((await beat("sleeping")).status).toBe(400);
    const other = await makeAgent();
    expect((await beat("online", other.apiKey)).status).toBe(403);
  });
});
