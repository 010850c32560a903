import { afterEach, describe, expect, it, vi } from "vitest";
import { requestDelivery } from "../../src/agent/stub";

// A namespace whose one stub answers `deliver` with `answer` (unit test of the reporting only;
// the integration tests run real Durable Objects).
const envAnswering = (answer: () => Promise<unknown>) =>
  ({ AGENT: { getByName: () => ({ deliver: answer }) } }) as unknown as Env;

describe("a delivery request", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("reports a Durable Object that has not answered after 10 s, and not one that answered", async () => {
    vi.useFakeTimers();
    const errors: unknown[] = [];
    const waited: Promise<unknown>[] = [];
    const ctx = { waitUntil: (p: Promise<unknown>) => void waited.push(p) };
    requestDelivery(envAnswering(() => new Promise(() => {})), ctx, "hung", (err) => errors.push(err));
    requestDelivery(envAnswering(async () => ({ delivered: 1 })), ctx, "fine", (err) => errors.push(err));
    await vi.advanceTimersByTimeAsync(9_999);
    expect(errors).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain("no answer from the agent's Durable Object after 10000 ms");
  });

  it("reports a failed request once, and not again when the time is up", async () => {
    vi.useFakeTimers();
    const errors: unknown[] = [];
    const ctx = { waitUntil: (_p: Promise<unknown>) => {} };
    requestDelivery(envAnswering(async () => Promise.reject(new Error("DO reset"))), ctx, "broken", (err) => errors.push(err));
    await vi.advanceTimersByTimeAsync(20_000);
    expect(errors.map(String)).toEqual(["Error: DO reset"]);
  });
});
