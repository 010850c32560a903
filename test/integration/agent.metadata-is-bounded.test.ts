/**
 * An agent's registration metadata is free-form and comes with the bootstrap key: it is bounded
 * (64 Ki characters of JSON), since it is read back on every authentication of the agent and in
 * every admin agent list. Agents send a few labels. Larger is refused with a 400, nothing stored.
 */
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { query, uniqueId } from "../helpers/db";
import { call } from "../helpers/http";

const register = (agentId: string, metadata: unknown) =>
  call("POST", "/api/v1/agents/register", { headers: { "X-Agent-API-Key": env.AGENT_BOOTSTRAP_KEY }, body: { agentId, platform: "kubernetes", metadata } });

describe("an agent's registration metadata", () => {
  it("is refused past 64 Ki characters of JSON, and nothing is stored", async () => {
    const agentId = uniqueId("big-meta");
    const res = await register(agentId, { blob: "m".repeat(65 * 1024) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "Validation failed", issues: [expect.objectContaining({ path: "metadata" })] });
    expect(await query(sql`select 1 from agents where agent_id = ${agentId}`)).toEqual([]);
  });

  it("is taken up to that size", async () => {
    expect((await register(uniqueId("meta"), { blob: "m".repeat(60 * 1024) })).status).toBe(202);
  });
});
