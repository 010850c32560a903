/**
 * The bench's agents heartbeat as real agents do, so that at the real 30 s cadence none stays
 * silent for the DO's 45 s liveness timeout, however long the connect phase before it.
 */
import { describe, expect, it } from "vitest";
import { HEARTBEAT_TIMEOUT_MS } from "../../src/agent/liveness";
import { AGENT_HEARTBEAT_MS } from "../../src/local/bench/agents";
import { firstBeat, nextBeat, spreadBeat } from "../../src/local/bench/heartbeat-schedule";

const P = AGENT_HEARTBEAT_MS;

describe("the bench agents' heartbeat schedule", () => {
  it("sends an agent's first heartbeat one interval after its own connect, not after the phase's", () => {
    // Heartbeats started at 0; an agent that connects 25 s into a slow connect phase.
    expect(firstBeat(25_000, P)).toBe(25_000 + P);
    expect(firstBeat(25_000, P) - 25_000).toBeLessThan(HEARTBEAT_TIMEOUT_MS);
  });

  it("spreads agents already connected evenly over one interval, the last at its end", () => {
    const beats = [0, 1, 2, 3].map((i) => spreadBeat(i, 4, 1_000, P));
    expect(beats).toEqual([1_000 + P / 4, 1_000 + P / 2, 1_000 + (3 * P) / 4, 1_000 + P]);
  });

  it("keeps the interval on time, and after a stall beats once, then a whole interval later", () => {
    expect(nextBeat(30_000, 30_050, P)).toBe(30_000 + P);
    // The loop stalled past the next beat too: no burst of catch-up heartbeats.
    expect(nextBeat(30_000, 30_000 + P + 5_000, P)).toBe(30_000 + 2 * P + 5_000);
  });
});
