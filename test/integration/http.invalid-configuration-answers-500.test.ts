/**
 * A deployment with a setting missing or malformed answers every request with a 500 JSON body
 * titled `Invalid configuration` that names the setting (not its value), and logs what is wrong
 * with it. It answered `An unexpected error occurred.`, and the README promised the message.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";

async function fetchWith(settings: Partial<Record<keyof Env, unknown>>, path: string): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`http://control-plane${path}`), { ...env, ...settings } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

describe("a deployment whose settings are invalid", () => {
  afterEach(() => vi.restoreAllMocks());

  it("answers 500 Invalid configuration naming the setting, and logs the problem", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const response = await fetchWith({ AGENT_BOOTSTRAP_KEY: undefined }, "/healthz");
    expect(response.status).toBe(500);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ error: "Invalid configuration", code: "internal" });
    expect(body["message"]).toContain("AGENT_BOOTSTRAP_KEY");
    expect(typeof body["requestId"]).toBe("string");
    expect(JSON.stringify(logged.mock.calls)).toContain("invalid configuration: AGENT_BOOTSTRAP_KEY");
  });

  it("does not show the bad value", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const secret = "s3cr3t-but-too-short";
    const response = await fetchWith({ JWT_SECRET: secret.slice(0, 10) }, "/api/v1/sessions");
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(text).toContain("JWT_SECRET");
    expect(text).not.toContain(secret.slice(0, 10));
  });
});
