import { describe, expect, it } from "vitest";
import {
  HEARTBEAT_TIMEOUT_MS,
  HEARTBEAT_WRITE_INTERVAL_MS,
  heartbeatNeedsWrite,
  isSilent,
  livenessDeadline,
  retryDelayMs,
} from "../../src/agent/liveness";

describe("liveness rules", () => {
  it("write a heartbeat only when the stored one is getting old or the capacity changed", () => {
    const memory = { seen: 0, written: 1_000, capacity: '{"maxSessions":1}' };
    expect(heartbeatNeedsWrite(memory, 1_000 + HEARTBEAT_WRITE_INTERVAL_MS - 1, '{"maxSessions":1}')).toBe(false);
    expect(heartbeatNeedsWrite(memory, 1_000 + HEARTBEAT_WRITE_INTERVAL_MS, '{"maxSessions":1}')).toBe(true);
    expect(heartbeatNeedsWrite(memory, 2_000, '{"maxSessions":2}')).toBe(true);
    expect(heartbeatNeedsWrite(memory, 2_000, undefined)).toBe(false);
  });

  it("keep the stored heartbeat inside the 90 s selection window with 30 s heartbeats", () => {
    expect(HEARTBEAT_WRITE_INTERVAL_MS + 30_000).toBeLessThan(90_000);
  });

  it("declare a socket silent exactly 45 s after it was last seen", () => {
    expect(livenessDeadline(10_000)).toBe(10_000 + HEARTBEAT_TIMEOUT_MS);
    expect(isSilent(0, HEARTBEAT_TIMEOUT_MS - 1)).toBe(false);
    expect(isSilent(0, HEARTBEAT_TIMEOUT_MS)).toBe(true);
  });

  it("back retries off exponentially with jitter, between 125 ms and 15 s", () => {
    expect(retryDelayMs(1, () => 0)).toBe(250);
    expect(retryDelayMs(1, () => 0.999)).toBeLessThan(500);
    expect(retryDelayMs(3, () => 0)).toBe(1000);
    expect(retryDelayMs(20, () => 0.999)).toBeLessThan(15_000);
    expect(retryDelayMs(20, () => 0)).toBe(7_500);
  });
});
