/**
 * A user's JWT must carry a numeric `exp`: one without it answers 401 `Invalid or expired token`
 * saying so. Hono's verify checks `exp` only when present, so such a token was good forever.
 */
import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { call, tokenFor } from "../helpers/http";

const now = () => Math.floor(Date.now() / 1000);

describe("a bearer token", () => {
  it.each([
    ["a user's", "/api/v1/sessions", { sub: "eve", role: "user" }],
    ["an admin's", "/api/v1/admin/agents", { sub: "root", role: "admin" }],
  ])("without an exp is refused as %s token with 401, saying it has no expiry", async (_whose, path, claims) => {
    const token = await sign({ ...claims, iat: now() }, env.JWT_SECRET, "HS256");
    const answer = await call("GET", path, { token });
    expect(answer.status).toBe(401);
    expect(await answer.json()).toMatchObject({ error: "Invalid or expired token", code: "unauthorized", message: expect.stringMatching(/no expiry \(exp\)/) });
  });

  it("with an exp and the same claims otherwise is accepted", async () => {
    const token = await sign({ sub: "eve", role: "user", iat: now(), exp: now() + 60 }, env.JWT_SECRET, "HS256");
    expect((await call("GET", "/api/v1/sessions", { token })).status).toBe(200);
    expect((await call("GET", "/api/v1/admin/agents", { token: await tokenFor("root", { admin: true }) })).status).toBe(200);
  });
});
