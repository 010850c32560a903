/**
 * A body nesting arrays and objects more than 64 deep is refused with a 400 that says so, before
 * anything is written. Postgres refuses jsonb some thousands deep (stack depth, SQLSTATE 54001),
 * which answered 500, and a command payload just below that was stored but could not be encoded
 * for the agent. Strings holding brackets do not count.
 */
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { makeAgent, query, uniqueId } from "../helpers/db";
import { call, tokenFor } from "../helpers/http";

/** `"x"` wrapped in `depth` arrays, as raw JSON text. */
const nested = (depth: number) => "[".repeat(depth) + '"x"' + "]".repeat(depth);

async function expectTooDeep(res: Response) {
  expect(res.status).toBe(400);
  expect(await res.json()).toMatchObject({ error: "Bad request", code: "bad_request", limit: 64, message: expect.stringMatching(/64 deep/) });
}

describe("a deeply nested JSON body", () => {
  it("is refused on every route that stores JSON, and nothing is written", async () => {
    const agentId = uniqueId("deep");
    const registration = (metadata: string) =>
      call("POST", "/api/v1/agents/register", {
        headers: { "X-Agent-API-Key": env.AGENT_BOOTSTRAP_KEY },
        rawBody: `{"agentId":"${agentId}","platform":"kubernetes","region":"default","metadata":{"m":${metadata}}}`,
      });
    await expectTooDeep(await registration(nested(100_000)));
    expect(await query(sql`select 1 from agents where agent_id = ${agentId}`)).toEqual([]);

    const admin = await tokenFor("root", { admin: true });
    const { agentId: existing } = await makeAgent();
    await expectTooDeep(
      await call("POST", `/api/v1/admin/agents/${existing}/command`, { token: admin, rawBody: `{"action":"stop_session","payload":{"p":${nested(5_000)}}}` }),
    );
    expect(await query(sql`select 1 from agent_commands where agent_id = ${existing}`)).toEqual([]);
    await expectTooDeep(await call("PUT", "/api/v1/admin/templates/deep", { token: admin, rawBody: `{"manifest":{"spec":${nested(65)}}}` }));
  });

  it("is accepted up to 64 deep, with brackets inside strings not counted", async () => {
    const agentId = uniqueId("deep-ok");
    const body = `{"agentId":"${agentId}","platform":"kubernetes","region":"default","metadata":{"m":${nested(62)},"s":"[[[[{{{{\\"[[["}}`;
    const res = await call("POST", "/api/v1/agents/register", { headers: { "X-Agent-API-Key": env.AGENT_BOOTSTRAP_KEY }, rawBody: body });
    expect(res.status).toBe(202); // registered, waiting for approval
  });
});
