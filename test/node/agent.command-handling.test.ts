import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../src/local/agent/backoff";
import { CommandLedger } from "../../src/local/agent/command-ledger";
import { handleK8sCommand, parseK8sServerMessage } from "../../src/local/agent/k8s-dialect";

const ctx = { now: () => new Date("2026-01-01T00:00:00Z"), random: () => 0.5 };
const MANIFEST = { metadata: { name: "t" }, spec: { baseImage: "lscr.io/linuxserver/firefox:latest" } };

describe("the reference agent's k8s dialect", () => {
  it("answers start_session with status running, then complete with the pod", () => {
    const out = handleK8sCommand(
      { commandId: "c1", action: "start_session", payload: { sessionId: "s1", user: "u", template: "t", templateManifest: MANIFEST } },
      ctx,
    );
    expect(out.frames.map((f) => f.type)).toEqual(["status", "complete"]);
    expect(out.frames[0]).not.toHaveProperty("timestamp"); // k8s-agent's status frames carry none
    expect(out.final.payload).toMatchObject({ commandId: "c1", result: { sessionId: "s1", state: "running", vncPort: 3000 } });
    expect(out.sessionDelta).toBe(1);
  });

  it("fails start_session without sessionId/user/template, and unknown actions by name", () => {
    expect(handleK8sCommand({ commandId: "c2", action: "start_session", payload: {} }, ctx).final).toMatchObject({
      type: "failed",
      payload: { error: "missing or invalid sessionId/user/template" },
    });
    expect(handleK8sCommand({ commandId: "c3", action: "PING", payload: {} }, ctx).final).toMatchObject({
      type: "failed",
      payload: { commandId: "c3", error: "unknown action: PING" },
    });
  });

  it("fails start_session whose templateManifest has no lower-case spec.baseImage, as k8s-agent (no Template CRD here)", () => {
    const payload = { sessionId: "s1", user: "u", template: "t" };
    for (const templateManifest of [undefined, "a string", {}, { Spec: { BaseImage: "x" } }, { spec: { baseImage: "" } }]) {
      expect(handleK8sCommand({ commandId: "c4", action: "start_session", payload: { ...payload, templateManifest } }, ctx).final).toMatchObject({
        type: "failed",
        payload: { error: expect.stringContaining("no spec.baseImage") },
      });
    }
  });

  it("classifies server messages: commands, other types, and garbage", () => {
    expect(parseK8sServerMessage('{"type":"command","payload":{"commandId":"c","action":"stop_session","payload":{}}}')).toMatchObject({ kind: "command" });
    expect(parseK8sServerMessage('{"type":"ping"}')).toMatchObject({ kind: "ignored", type: "ping" });
    expect(parseK8sServerMessage("{}{}")).toMatchObject({ kind: "malformed" });
  });
});

describe("the reference agent's command ledger", () => {
  it("recognises repeats and keeps only the newest finished ids", () => {
    const ledger = new CommandLedger(2);
    expect(ledger.begin("a")).toBe(true);
    expect(ledger.begin("a")).toBe(false);
    const final = { type: "complete" as const, payload: { commandId: "a" } };
    ledger.finish("a", final);
    expect(ledger.lookup("a")).toEqual({ status: "finished", final });
    ledger.finish("b", final);
    ledger.finish("c", final);
    expect(ledger.lookup("a")).toEqual({ status: "new" });
    expect(ledger.size).toEqual({ pending: 0, finished: 2 });
  });
});

describe("reconnect backoff", () => {
  it("grows with each failure, stays within its bounds, and is jittered", () => {
    const opts = { minMs: 100, maxMs: 1000 };
    for (let attempt = 1; attempt < 10; attempt++) {
      for (const r of [0, 0.5, 0.999]) {
        const d = backoffDelay(attempt, opts, () => r);
        expect(d).toBeGreaterThanOrEqual(100);
        expect(d).toBeLessThanOrEqual(1000);
      }
    }
    expect(backoffDelay(1, opts, () => 0.999)).toBeLessThan(backoffDelay(4, opts, () => 0.999));
    expect(backoffDelay(3, opts, () => 0)).not.toBe(backoffDelay(3, opts, () => 0.9));
  });
});
