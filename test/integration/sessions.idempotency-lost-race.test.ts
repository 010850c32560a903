/**
 * A request that loses an Idempotency-Key race replays the winner's answer, and its own work is
 * rolled back: the command it wrote must not reach the agent either. The race is made
 * deterministic: the test holds the key's row in an open transaction until the request is seen
 * waiting on it, then commits the "winner's" answer.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { transaction } from "../../src/db/transaction";
import { query, waitForLockWaiter, withDb } from "../helpers/db";
import type { TestAgent } from "../helpers/db";
import { call, callJson, tokenFor } from "../helpers/http";
import { agentReadyFor } from "../helpers/ws";
import type { AgentSocket } from "../helpers/ws";

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

// The race needs two sessions at once (the test's transaction holds the key while the request
// waits on it): embedded PGlite lets one transaction through at a time.
describe.skipIf(!inject("concurrentSessions"))("an Idempotency-Key race", () => {
  let agent: TestAgent;
  let socket: AgentSocket;
  beforeAll(async () => {
    ({ agent, socket } = await agentReadyFor("desktop"));
  });
  afterAll(() => socket.close());

  const commandCount = async () =>
    (await query<{ n: number }>(sql`select count(*)::int as n from agent_commands where agent_id = ${agent.agentId}`))[0]?.n;

  async function loseRace(route: string, path: string, token: string, body: unknown, winner: { statusCode: number; response: unknown }) {
    const requestHash = await sha256Hex(`${route}\n${JSON.stringify(body)}`);
    // Wrapped, so that leaving the transaction (its commit) does not wait for the request.
    const { loser } = await withDb((db) =>
      transaction(db, async (tx) => {
        await tx.execute(sql`insert into idempotency_keys (scope, key, request_hash, status_code, response)
          values (${`${route.startsWith("POST /api/v1/admin") ? "root" : "hank"}:${route}`}, 'race-key', ${requestHash},
                  ${winner.statusCode}, ${JSON.stringify(winner.response)}::jsonb)`);
        const loser = call("POST", path, { token, body, headers: { "Idempotency-Key": "race-key" } });
        // The loser has done its work and waits on the key this transaction holds.
        await waitForLockWaiter("the request waiting on the key", { timeoutMs: 10_000 });
        return { loser };
      }),
    );
    return loser;
  }

  it("leaves the losing session create's command undelivered: it was rolled back", async () => {
    const winner = { statusCode: 202, response: { name: "winner-session", agentId: agent.agentId, state: "pending" } };
    const loser = await loseRace("POST /api/v1/sessions", "/api/v1/sessions", await tokenFor("hank"), { user: "hank", template: "desktop" }, winner);
    expect(loser.status).toBe(202);
    expect(await loser.json()).toEqual(winner.response);
    expect(await commandCount()).toBe(0);
    // The next command for the agent is the first frame it gets: nothing was pushed before it.
    const admin = await tokenFor("root", { admin: true });
    const next = await callJson<{ commandId: string }>("POST", `/api/v1/admin/agents/${agent.agentId}/command`, 201, {
      token: admin,
      body: { action: "stop_session", sessionId: "after-race" },
    });
    expect((await socket.nextFrame()).payload.commandId).toBe(next.commandId);
  });

  it("leaves the losing admin command undelivered too", async () => {
    const admin = await tokenFor("root", { admin: true });
    const path = `/api/v1/admin/agents/${agent.agentId}/command`;
    const before = await commandCount();
    const winner = { statusCode: 201, response: { commandId: "cmd-winner", agentId: agent.agentId, action: "stop_session", status: "pending" } };
    const loser = await loseRace(`POST ${path}`, path, admin, { action: "stop_session", sessionId: "raced" }, winner);
    expect(loser.status).toBe(201);
    expect(await loser.json()).toEqual(winner.response);
    expect(await commandCount()).toBe(before);
    const next = await callJson<{ commandId: string }>("POST", path, 201, { token: admin, body: { action: "stop_session", sessionId: "after-admin-race" } });
    expect((await socket.nextFrame()).payload.commandId).toBe(next.commandId);
  });
});
