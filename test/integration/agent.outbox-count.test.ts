/**
 * The outbox keeps an agent's frames while Postgres is away and follows its row count in memory.
 * Two flushes that overlapped once removed the same frame twice and counted it twice: the count
 * reached 0 with a frame still stored, and that frame was never applied.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AgentObject } from "../../src/agent/agent-object";
import { FrameOutbox } from "../../src/agent/outbox";

const ack = (commandId: string) => ({ type: "ack" as const, payload: { commandId } });

describe("the outbox of kept frames", () => {
  it("counts a frame removed twice once, so the frames behind it are still applied", async () => {
    const stub = env.AGENT.getByName("outbox-count");
    await runInDurableObject(stub, (_o: AgentObject, state) => {
      const outbox = new FrameOutbox(state.storage.sql);
      outbox.keep("outbox-count", ack("first"));
      outbox.keep("outbox-count", ack("second"));
      const [first] = outbox.oldest(1);
      outbox.remove(first!.seq);
      outbox.remove(first!.seq);
      expect(outbox.size()).toBe(1);
      expect(outbox.oldest(10).map((k) => k.frame)).toEqual([ack("second")]);
      // A new object over the same storage reads the same count.
      expect(new FrameOutbox(state.storage.sql).size()).toBe(1);
    });
  });
});
