/**
 * A call to an agent's Durable Object that fails in the infrastructure (the runtime marks the
 * error `retryable` or `overloaded`) answers 503 naming the object. It used to answer 500, or,
 * for "Network connection lost.", that the database was unreachable and, on a POST, that the
 * request may have taken effect. An error our object's own code threw (`remote`) is judged as
 * before.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import type { AppEnv } from "../../src/env";
import { toErrorResponse } from "../../src/errors";

const doError = (message: string, marks: Record<string, boolean>) => Object.assign(new Error(message), marks);

async function answerTo(err: Error, method = "POST"): Promise<{ status: number; body: Record<string, unknown> }> {
  const app = new Hono<AppEnv>().all("/", () => {
    throw err;
  });
  app.onError((e, c) => toErrorResponse(e, c));
  const res = await app.request("/", { method });
  return { status: res.status, body: await res.json() };
}

describe("a Durable Object call the infrastructure fails", () => {
  it("answers 503 Agent object unavailable, saying whether to retry now or later", async () => {
    const lost = await answerTo(doError("Network connection lost.", { retryable: true }));
    expect(lost).toMatchObject({ status: 503, body: { error: "Agent object unavailable", message: expect.stringMatching(/restarting or moving/) } });
    expect(lost.body).not.toHaveProperty("outcome");
    const overloaded = await answerTo(doError("Durable Object is overloaded. Too many requests queued.", { overloaded: true }));
    expect(overloaded).toMatchObject({ status: 503, body: { error: "Agent object unavailable", message: expect.stringMatching(/overloaded/) } });
  });

  it("leaves an error the object's own code threw to the other rules", async () => {
    expect(await answerTo(doError("boom", { remote: true, retryable: true }))).toMatchObject({ status: 500, body: { error: "Internal server error" } });
  });
});
