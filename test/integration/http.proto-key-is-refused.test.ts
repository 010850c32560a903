/**
 * A request body with a key named `__proto__`, at any depth and however it is escaped, is refused
 * with a 400 and nothing is stored: zod's object and record parsing silently dropped that key, so
 * what was stored differed from what was sent. The name is fine as a value.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { makeAgent, query } from "../helpers/db";
import { call, tokenFor } from "../helpers/http";
import { storedManifest } from "../helpers/templates";

const expectRefused = async (answer: Response) => {
  expect(answer.status).toBe(400);
  expect(await answer.json()).toMatchObject({ error: "Bad request", message: expect.stringMatching(/key named __proto__, which cannot be kept/) });
};

describe("a body with a key named __proto__", () => {
  // Raw text: an object literal's `__proto__` would set its prototype, and JSON.stringify would leave it out.
  it.each([
    ["in a template's manifest", String.raw`{"manifest":{"metadata":{},"spec":{"baseImage":"img","__proto__":{"x":1}}}}`],
    ["written with \\u escapes", String.raw`{"manifest":{"metadata":{"\u005f\u005fproto\u005F_":"x"},"spec":{"baseImage":"img"}}}`],
    ["deep inside a list", String.raw`{"manifest":{"metadata":{},"spec":{"baseImage":"img","env":[{"name":"A","value":"1","x":{"__proto__":null}}]}}}`],
  ])("is refused %s, and nothing is stored", async (_where, rawBody) => {
    const name = `proto-${crypto.randomUUID().slice(0, 8)}`;
    await expectRefused(await call("PUT", `/api/v1/admin/templates/${name}`, { token: await tokenFor("root", { admin: true }), rawBody }));
    expect(await storedManifest(name)).toBeUndefined();
  });

  it("is refused in an admin command's payload, and nothing is queued", async () => {
    const { agentId } = await makeAgent();
    await expectRefused(
      await call("POST", `/api/v1/admin/agents/${agentId}/command`, {
        token: await tokenFor("root", { admin: true }),
        rawBody: String.raw`{"action":"stop_session","payload":{"__proto__":{"sessionId":"s-b"}}}`,
      }),
    );
    expect(await query(sql`select 1 from agent_commands where agent_id = ${agentId}`)).toEqual([]);
  });

  it("is not refused for __proto__ as a value or for other \\u escapes: the manifest is stored as sent", async () => {
    const name = `proto-${crypto.randomUUID().slice(0, 8)}`;
    const answer = await call("PUT", `/api/v1/admin/templates/${name}`, {
      token: await tokenFor("root", { admin: true }),
      rawBody: String.raw`{"manifest":{"metadata":{"name":"caf\u00e9"},"spec":{"baseImage":"img","description":"__proto__"}}}`,
    });
    expect(answer.status).toBe(200);
    expect(await storedManifest(name)).toEqual({ metadata: { name: "café" }, spec: { baseImage: "img", description: "__proto__" } });
  });
});
