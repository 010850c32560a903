/**
 * A body with a string (or a key) holding half a UTF-16 surrogate pair, a lone `\uD800`–`\uDFFF`
 * escape, is refused with a 400 on every route, before anything is written. It is not text:
 * Neon's SQL-over-HTTP endpoint refuses JSON carrying one (an error without a SQLSTATE, so a 500),
 * and a local Postgres stored U+FFFD instead, a different agent id than the one registered.
 * A whole pair, and the same six characters as text (an escaped backslash), are accepted.
 */
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { makeAgent, query, uniqueId } from "../helpers/db";
import { call, tokenFor } from "../helpers/http";

const register = (rawBody: string) => call("POST", "/api/v1/agents/register", { headers: { "X-Agent-API-Key": env.AGENT_BOOTSTRAP_KEY }, rawBody });

async function expectRefused(res: Response) {
  expect(res.status).toBe(400);
  expect(await res.json()).toMatchObject({ error: "Bad request", code: "bad_request", message: expect.stringMatching(/surrogate/) });
}

describe("a body holding half a surrogate pair", () => {
  it("is refused on every route, and nothing is written", async () => {
    const agentId = uniqueId("lone");
    await expectRefused(await register(`{"agentId":"${agentId}\\ud800","platform":"kubernetes"}`));
    await expectRefused(await register(`{"agentId":"${agentId}","platform":"kubernetes","metadata":{"k\\udc00":1}}`));
    expect(await query(sql`select 1 from agents where agent_id like ${agentId + "%"}`)).toEqual([]);

    const admin = await tokenFor("root", { admin: true });
    const { agentId: existing } = await makeAgent();
    await expectRefused(await call("POST", `/api/v1/admin/agents/${existing}/command`, { token: admin, rawBody: `{"action":"stop_session","sessionId":"s\\udc00"}` }));
    expect(await query(sql`select 1 from agent_commands where agent_id = ${existing}`)).toEqual([]);
    await expectRefused(await call("POST", "/api/v1/sessions", { token: await tokenFor("lou"), rawBody: `{"user":"lou","template":"t","tags":["\\uDBFF"]}` }));
  });

  it("accepts a whole pair, and the escape's characters as text", async () => {
    const agentId = uniqueId("paired");
    const res = await register(`{"agentId":"${agentId}","platform":"kubernetes","metadata":{"emoji":"\\ud83d\\ude00","text":"\\\\ud800"}}`);
    expect(res.status).toBe(202);
    const [row] = await query<{ metadata: Record<string, string> }>(sql`select metadata from agents where agent_id = ${agentId}`);
    expect(row?.metadata).toEqual({ emoji: "😀", text: "\\ud800" });
  });
});
