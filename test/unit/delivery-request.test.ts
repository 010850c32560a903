import { afterEach, describe, expect, it, vi } from "vitest";
import { requestDelivery } from "../../src/agent/stub";
import type { Logger } from "../../src/lib/log";

// A namespace whose one stub answers `deliver` with `answer` (unit test of the reporting only;
// the integration tests run real Durable Objects).
const envAnswering = (answer: () => Promise<unknown>) =>
  ({ AGENT: { getByName: () => ({ deliver: answer }) } }) as unknown as Env;

function recordingLogger(lines: string[]): Logger {
  const logger: Logger = {
    info: (msg) => void lines.push(`info ${msg}`),
    warn: (msg, fields) => void lines.push(`warn ${msg}${fields?.["err"] ? `: ${String(fields["err"])}` : ""}`),
    error: (msg) => void lines.push(`error ${msg}`),
    with: () => logger,
  };
  return logger;
}

describe("a delivery request", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("logs a Durable Object that has not answered after 10 s, and not one that answered", async () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const ctx = { waitUntil: (_p: Promise<unknown>) => {} };
    requestDelivery(envAnswering(() => new Promise(() => {})), ctx, "hung", recordingLogger(lines));
    requestDelivery(envAnswering(async () => ({ delivered: 1 })), ctx, "fine", recordingLogger(lines));
    await vi.advanceTimersByTimeAsync(9_999);
    expect(lines).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(lines).toEqual(["warn delivery request unanswered"]);
  });

  it("logs a failed request once, as failed", async () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const ctx = { waitUntil: (_p: Promise<unknown>) => {} };
    requestDelivery(envAnswering(async () => Promise.reject(new Error("DO reset"))), ctx, "broken", recordingLogger(lines));
    await vi.advanceTimersByTimeAsync(20_000);
    expect(lines).toEqual(["warn delivery request failed: Error: DO reset"]);
  });
});
