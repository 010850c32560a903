/**
 * An admin command's `payload.sessionId` is the session agents act on, and its `sessionId` the
 * session its outcome moves: when both are given and name different sessions the command is
 * refused with a 400 naming `payload.sessionId`, and nothing is queued. It was stored for session
 * A while the agent stopped session B.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { makeAgent, query } from "../helpers/db";
import { call, callJson, tokenFor } from "../helpers/http";

const commandsOf = async (agentId: string) =>
  (await query<{ session_id: string | null; payload: unknown }>(sql`select session_id, payload from agent_commands where agent_id = ${agentId}`));

describe("an admin command whose payload names a session", () => {
  it.each([
    ["another session than sessionId", { sessionId: "s-a", payload: { sessionId: "s-b" } }],
    ["a session that is no string", { sessionId: "s-a", payload: { sessionId: 7 } }],
  ])("is refused when it names %s, and nothing is queued", async (_what, body) => {
    const { agentId } = await makeAgent();
    const answer = await call("POST", `/api/v1/admin/agents/${agentId}/command`, {
      token: await tokenFor("root", { admin: true }),
      body: { action: "stop_session", ...body },
    });
    expect(answer.status).toBe(400);
    const error = (await answer.json()) as { error: string; fields: Record<string, string> };
    expect(error.error).toBe("Validation failed");
    expect(Object.keys(error.fields)).toEqual(["payload.sessionId"]);
    expect(await commandsOf(agentId)).toEqual([]);
  });

  it("is queued when it names the command's own session", async () => {
    const { agentId } = await makeAgent();
    const command = await callJson("POST", `/api/v1/admin/agents/${agentId}/command`, 201, {
      token: await tokenFor("root", { admin: true }),
      body: { action: "stop_session", sessionId: "s-a", payload: { sessionId: "s-a", force: true } },
    });
    expect(command).toMatchObject({ sessionId: "s-a", payload: { sessionId: "s-a", force: true } });
    expect(await commandsOf(agentId)).toEqual([{ session_id: "s-a", payload: { sessionId: "s-a", force: true } }]);
  });
});
