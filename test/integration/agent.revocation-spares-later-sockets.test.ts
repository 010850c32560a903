/**
 * The disconnect that follows a key rotation or an agent's delete names the time the change
 * committed. A socket whose credentials were checked after that time (the agent reconnecting
 * with its new key) is left open; one checked before it, or after it by less than the margin
 * allowed for the clocks of the machines that took the two times, is closed.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { AGENT_ID_HEADER, AUTHORIZED_AT_HEADER, REVOCATION_CLOCK_MARGIN_MS } from "../../src/agent/agent-object";
import { getAgentStub } from "../../src/agent/stub";
import { makeAgent } from "../helpers/db";
import { settle } from "../helpers/ws";

async function openAuthorizedAt(agentId: string, authorizedAt: number): Promise<WebSocket> {
  const stub = getAgentStub(env, agentId);
  const response = await stub.fetch(
    new Request("http://dispatch.test/api/v1/agents/connect", {
      headers: { Upgrade: "websocket", [AGENT_ID_HEADER]: agentId, [AUTHORIZED_AT_HEADER]: String(authorizedAt) },
    }),
  );
  expect(response.status).toBe(101);
  response.webSocket!.accept();
  return response.webSocket!;
}

describe("a disconnect naming when credentials were revoked", () => {
  it("leaves open a socket authorized after that time and closes one authorized before it", async () => {
    const { agentId } = await makeAgent();
    const stub = getAgentStub(env, agentId);
    const revokedAt = Date.now();
    // Later than the revocation by more than the margin allowed for the two machines' clocks.
    const later = revokedAt + REVOCATION_CLOCK_MARGIN_MS + 1_000;

    const socket = await openAuthorizedAt(agentId, later);
    await stub.disconnect("API key rotated", revokedAt);
    expect(await stub.isConnected()).toBe(true);

    // A later revocation, at the socket's own authorization time, closes it.
    await stub.disconnect("API key rotated", later);
    expect(await stub.isConnected()).toBe(false);
    socket.close(1000, "done");
    await settle(agentId);
  });

  it("closes a socket authorized after the revocation by less than the clock margin: an old key read just before", async () => {
    const { agentId } = await makeAgent();
    const stub = getAgentStub(env, agentId);
    const revokedAt = Date.now(); // none stored yet: the upgrade below is accepted
    const socket = await openAuthorizedAt(agentId, revokedAt + REVOCATION_CLOCK_MARGIN_MS - 500);
    await stub.disconnect("API key rotated", revokedAt);
    expect(await stub.isConnected()).toBe(false);
    socket.close(1000, "done");
    await settle(agentId);
  });
});
