/**
 * A call to an agent's Durable Object that fails in the platform (the runtime marks the error
 * `retryable` or `overloaded`) answers 503 naming the object. It used to answer 500, or, for
 * "Network connection lost.", that the database was unreachable and, on a POST, that the request
 * may have taken effect. Only what a stub call threw is judged so: workerd marks any dropped
 * connection `retryable`, and one to the database keeps its meaning. An error our object's own
 * code threw (`remote`) is judged as before.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { callAgentObject } from "../../src/agent/stub";
import type { AppEnv } from "../../src/env";
import { toErrorResponse } from "../../src/errors";

const platformError = (message: string, marks: Record<string, boolean>) => Object.assign(new Error(message), marks);

async function answerTo(handler: () => Promise<unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  const app = new Hono<AppEnv>().post("/", async (c) => c.json(await handler()));
  app.onError((e, c) => toErrorResponse(e, c));
  const res = await app.request("/", { method: "POST" });
  return { status: res.status, body: await res.json() };
}

describe("a Durable Object call the platform fails", () => {
  it("answers 503 Agent object unavailable, saying whether to retry now or later", async () => {
    const lost = await answerTo(() => callAgentObject(() => Promise.reject(platformError("Network connection lost.", { retryable: true }))));
    expect(lost).toMatchObject({ status: 503, body: { error: "Agent object unavailable", message: expect.stringMatching(/restarting or moving/) } });
    expect(lost.body).not.toHaveProperty("outcome");
    const overloaded = await answerTo(() =>
      callAgentObject(() => Promise.reject(platformError("Durable Object is overloaded. Too many requests queued.", { overloaded: true }))),
    );
    expect(overloaded).toMatchObject({ status: 503, body: { error: "Agent object unavailable", message: expect.stringMatching(/overloaded/) } });
  });

  it("leaves an error the object's own code threw, and a dropped connection to the database, to the other rules", async () => {
    const own = await answerTo(() => callAgentObject(() => Promise.reject(platformError("boom", { remote: true, retryable: true }))));
    expect(own).toMatchObject({ status: 500, body: { error: "Internal server error" } });
    // The same words and mark, from reading the database's answer: the write may have happened.
    const database = await answerTo(() => Promise.reject(platformError("Network connection lost.", { retryable: true })));
    expect(database).toMatchObject({ status: 503, body: { error: "Service unavailable", outcome: "unknown" } });
  });
});
