/**
 * An admin command for an agent that does not exist is 404 and queues nothing, whatever words
 * the agent id is made of: an id like "websocket-1" once read as a database outage and was
 * answered 503 "may have been queued", naming a command that was never written.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { query } from "../helpers/db";
import { call, tokenFor } from "../helpers/http";

describe("an admin command for an unknown agent", () => {
  it.each([
    ["websocket-1", undefined],
    ["agent-timeout", undefined],
    ["websocket-2", "key-ws-2"],
  ])("to %s is 404, with Idempotency-Key %s", async (agentId, key) => {
    const res = await call("POST", `/api/v1/admin/agents/${agentId}/command`, {
      token: await tokenFor("root", { admin: true }),
      body: { action: "stop_session", sessionId: "nobody" },
      headers: key ? { "Idempotency-Key": key } : {},
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "Agent not found" });
    const [n] = await query<{ n: number }>(sql`select count(*)::int as n from agent_commands where agent_id = ${agentId}`);
    expect(n?.n).toBe(0);
  });
});
