import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { makeAgent, makeTemplate, query } from "../helpers/db";
import { call, tokenFor } from "../helpers/http";
import { connectAgent } from "../helpers/ws";

async function expectError(res: Response, status: number, error?: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("Content-Type")).toMatch(/application\/json/);
  const body = (await res.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ code: expect.any(String), message: expect.any(String), requestId: expect.any(String) });
  if (error) expect(body["error"]).toBe(error);
  return body;
}

describe("bad HTTP input", () => {
  it("gets a 4xx JSON answer that says what was wrong", async () => {
    const token = await tokenFor("carol");
    await expectError(await call("POST", "/api/v1/sessions", { body: { user: "carol", template: "x" } }), 401, "Authorization header required");
    await expectError(await call("POST", "/api/v1/sessions", { token: "not.a.jwt", body: {} }), 401, "Invalid or expired token");
    await expectError(await call("POST", "/api/v1/sessions", { token, rawBody: "{not json" }), 400);
    const missingUser = await expectError(await call("POST", "/api/v1/sessions", { token, body: { template: "x" } }), 400, "Validation failed");
    expect(String(missingUser["message"])).toMatch(/user/);
    await expectError(await call("POST", "/api/v1/sessions", { token, body: { user: "carol" } }), 400, "Missing required field");
    await expectError(await call("POST", "/api/v1/sessions", { token, body: { user: "carol", template: 5 } }), 400, "Validation failed");
    await expectError(await call("POST", "/api/v1/sessions", { token, body: { user: "dave", template: "x" } }), 403);
    await expectError(await call("POST", "/api/v1/sessions", { token, body: { user: "carol", template: "no-such-template" } }), 404, "Template not found");
    await expectError(await call("GET", "/api/v1/admin/agents", { token }), 403);
    await expectError(await call("GET", "/api/v1/admin/commands?status=bogus", { token: await tokenFor("root", { admin: true }) }), 400, "Validation failed");
    await expectError(await call("GET", "/no/such/route"), 404, "Not found");
  });

  it("answers a body sent as another media type than JSON with 415 and a code to match", async () => {
    const token = await tokenFor("carol");
    const res = await call("POST", "/api/v1/sessions", {
      token,
      headers: { "Content-Type": "text/plain" },
      rawBody: JSON.stringify({ user: "carol", template: "x" }),
    });
    expect(await expectError(res, 415, "Unsupported media type")).toMatchObject({ code: "unsupported_media_type" });
  });

  it("with no eligible agent answers 503 and writes nothing", async () => {
    await makeTemplate("desktop");
    const offline = await makeAgent();
    const stale = await makeAgent();
    const socket = await connectAgent(stale.agentId, stale.apiKey);
    await query(sql`update agents set last_heartbeat = now() - interval '91 seconds' where agent_id = ${stale.agentId}`);
    const docker = await makeAgent({ platform: "docker" });
    const dockerSocket = await connectAgent(docker.agentId, docker.apiKey);

    const res = await call("POST", "/api/v1/sessions", { token: await tokenFor("carol"), body: { user: "carol", template: "desktop" } });
    await expectError(res, 503, "No agents available");
    const [counts] = await query<{ sessions: number; commands: number }>(
      sql`select (select count(*) from sessions)::int as sessions, (select count(*) from agent_commands)::int as commands`,
    );
    expect(counts).toEqual({ sessions: 0, commands: 0 });
    expect(offline.agentId).toBeTruthy();
    socket.close();
    dockerSocket.close();
  });
});
