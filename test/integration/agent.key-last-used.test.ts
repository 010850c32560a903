import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { generateApiKey } from "../../src/lib/api-key";
import { makeAgent, query } from "../helpers/db";
import { call } from "../helpers/http";
import { settle } from "../helpers/ws";

const lastUsed = async (agentId: string) =>
  (await query<{ api_key_last_used_at: string | null }>(sql`select api_key_last_used_at from agents where agent_id = ${agentId}`))[0]!
    .api_key_last_used_at;

const connect = (agentId: string, key: string) =>
  call("GET", `/api/v1/agents/connect?agent_id=${agentId}`, { headers: { Upgrade: "websocket", "X-Agent-API-Key": key } });

describe("an agent key's last use", () => {
  it("is recorded when the agent authenticates with its key, and not when a wrong key is presented", async () => {
    const agent = await makeAgent();
    const refused = await connect(agent.agentId, generateApiKey());
    expect(refused.status).toBe(403);
    expect(await lastUsed(agent.agentId)).toBeNull();

    const before = Date.now();
    const accepted = await connect(agent.agentId, agent.apiKey);
    expect(accepted.status).toBe(101);
    accepted.webSocket!.accept();
    const used = await lastUsed(agent.agentId);
    expect(used).not.toBeNull();
    expect(new Date(used!).getTime()).toBeGreaterThanOrEqual(before - 2000);
    accepted.webSocket!.close(1000, "done");
    await settle(agent.agentId);
  });
});
