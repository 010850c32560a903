/**
 * An admin command's payload must encode to at most 480 KiB (counted in UTF-8 bytes), so that its
 * frame fits the agents' 512 KiB message limit: docker-agent closes its socket on a larger frame
 * and never reconnects, and the command, sent again on every later connect, would take it down
 * each time. A larger one is refused with a 400 and not stored.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { makeAgent, query } from "../helpers/db";
import { call, tokenFor } from "../helpers/http";

describe("an admin command's payload", () => {
  it("is refused past 480 KiB of JSON, multi-byte characters counted as their bytes, and nothing is stored", async () => {
    const { agentId } = await makeAgent();
    const token = await tokenFor("root", { admin: true });
    const send = (payload: unknown) => call("POST", `/api/v1/admin/agents/${agentId}/command`, { token, body: { action: "stop_session", payload } });

    // 250 Ki characters, 500 KiB in UTF-8.
    const refused = await send({ sessionId: "s", note: "é".repeat(250 * 1024) });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: "Validation failed", issues: [expect.objectContaining({ path: "payload", message: expect.stringMatching(/512 KiB/) })] });
    expect(await query(sql`select 1 from agent_commands where agent_id = ${agentId}`)).toEqual([]);

    expect((await send({ sessionId: "s", note: "x".repeat(400 * 1024) })).status).toBe(201);
  });
});
