/**
 * An object's storage keys are read once per wake-up and then served from memory: what a new
 * instance over the same storage reads must be what the last one set.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AgentObject } from "../../src/agent/agent-object";
import { StoredValue } from "../../src/agent/stored-value";

describe("a stored value", () => {
  it("reads back, in a new instance over the same storage, what the last set stored or deleted", async () => {
    await runInDurableObject(env.AGENT.getByName("stored-value"), (_o: AgentObject, state) => {
      const kv = state.storage.kv;
      const first = new StoredValue<number>(kv, "n");
      expect(first.get()).toBeUndefined();
      first.set(1);
      first.set(2);
      expect(first.get()).toBe(2);
      expect(new StoredValue<number>(kv, "n").get()).toBe(2);
      first.set(undefined);
      expect(kv.get("n")).toBeUndefined();
      expect(new StoredValue<number>(kv, "n").get()).toBeUndefined();
      // Set again after a delete, and to the value a fresh instance has not read yet.
      new StoredValue<number>(kv, "n").set(3);
      expect(kv.get("n")).toBe(3);
    });
  });
});
