/**
 * When an agent's credentials go away (its key rotated, the agent deleted), its Durable Object
 * closes its socket and also refuses any upgrade whose credentials were checked before that
 * moment: a connect authorized just before the change can reach the object just after it, where
 * no later event would ever close it. An upgrade authorized after the change is accepted.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { AGENT_ID_HEADER, AUTHORIZED_AT_HEADER, REVOCATION_CLOCK_MARGIN_MS } from "../../src/agent/agent-object";
import { getAgentStub } from "../../src/agent/stub";
import { makeAgent } from "../helpers/db";
import { call, callJson, tokenFor } from "../helpers/http";
import { connectAgent, settle } from "../helpers/ws";

function upgrade(agentId: string, authorizedAt: number): Request {
  return new Request("http://dispatch.test/api/v1/agents/connect", {
    headers: { Upgrade: "websocket", [AGENT_ID_HEADER]: agentId, [AUTHORIZED_AT_HEADER]: String(authorizedAt) },
  });
}

describe("an agent's revoked credentials", () => {
  it("close its socket, refuse an upgrade authorized before the revocation and accept one after", async () => {
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    const authorizedBefore = Date.now() - 1;
    const admin = await tokenFor("root", { admin: true });
    await callJson("POST", `/api/v1/admin/agents/${agentId}/rotate-key`, 200, { token: admin });
    expect(await socket.closed()).toBe(4002);

    const stub = getAgentStub(env, agentId);
    const late = await stub.fetch(upgrade(agentId, authorizedBefore));
    expect(late.status).toBe(403);
    expect(late.webSocket).toBeNull();

    // Authorized after the revocation by more than the margin allowed for clocks.
    const fresh = await stub.fetch(upgrade(agentId, Date.now() + REVOCATION_CLOCK_MARGIN_MS + 1_000));
    expect(fresh.status).toBe(101);
    fresh.webSocket!.accept();
    fresh.webSocket!.close(1000, "done");
    await settle(agentId);
  });

  it("answer a connect refused so through the Worker with the JSON error shape", async () => {
    const { agentId, apiKey } = await makeAgent();
    // A revocation a minute ahead: any connect authorized now is refused, however slow the machine.
    await getAgentStub(env, agentId).disconnect("revoked for the test", Date.now() + 60_000);
    const res = await call("GET", `/api/v1/agents/connect?agent_id=${agentId}`, { headers: { Upgrade: "websocket", "X-Agent-API-Key": apiKey } });
    expect(res.status).toBe(403);
    expect(res.headers.get("X-Request-Id")).toBeTruthy();
    expect(await res.json()).toMatchObject({ error: "Credentials revoked", code: "forbidden", agentId, details: expect.stringMatching(/revoked/) });
  });
});
