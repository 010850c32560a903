/**
 * Error bodies carry the original's fields besides ours: on the agent endpoints the explanation
 * is also in `details` (spec §1.3), and a failed validation also lists `fields` (field →
 * problem, spec §1.4), so clients written against StreamSpace read what they expect.
 */
import { describe, expect, it } from "vitest";
import { makeAgent } from "../helpers/db";
import { call, randomIp } from "../helpers/http";

describe("error bodies", () => {
  it("on an agent endpoint carry details alongside message", async () => {
    const res = await call("POST", "/api/v1/agents/register", { body: { agentId: "x", platform: "kubernetes" }, headers: { "CF-Connecting-IP": randomIp() } });
    expect(res.status).toBe(401);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ error: "Missing authentication", details: body["message"] });
  });

  it("of a failed validation list fields, each with its problem", async () => {
    const { agentId, apiKey } = await makeAgent();
    const res = await call("POST", "/api/v1/agents/register", {
      body: { agentId, platform: "mainframe" },
      headers: { "X-Agent-API-Key": apiKey, "CF-Connecting-IP": randomIp() },
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "Validation failed", fields: { platform: expect.any(String) }, details: expect.any(String) });
  });
});
