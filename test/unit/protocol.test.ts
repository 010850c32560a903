import { describe, expect, it } from "vitest";
import { encodeCommandFrame, parseAgentFrame } from "../../src/agent/protocol";

describe("parseAgentFrame", () => {
  it("accepts RFC 3339, integer, null and absent timestamps (checklist 15)", () => {
    for (const timestamp of ["2025-11-22T07:14:50.2Z", 1732257290, null, undefined]) {
      const frame = parseAgentFrame(JSON.stringify({ type: "ack", timestamp, payload: { commandId: "cmd-1" } }));
      expect(frame).toEqual({ type: "ack", timestamp, payload: { commandId: "cmd-1" } });
    }
  });

  it("stores heartbeat capacity in the original's shape, dropping docker's integer fields", () => {
    const docker = parseAgentFrame(
      JSON.stringify({ type: "heartbeat", payload: { status: "online", activeSessions: 0, capacity: { maxCpu: 100, maxMemory: 128, maxSessions: 100 } } }),
    );
    expect(docker).toMatchObject({ payload: { capacity: { maxSessions: 100, cpu: "", memory: "" } } });
    const k8s = parseAgentFrame(
      JSON.stringify({ type: "heartbeat", payload: { capacity: { maxSessions: 100, cpu: "64 cores", memory: "256Gi", storage: "1Ti" } } }),
    );
    expect(k8s).toMatchObject({ payload: { capacity: { maxSessions: 100, cpu: "64 cores", memory: "256Gi", storage: "1Ti" } } });
  });

  it("reads binary frames holding JSON like text frames", () => {
    const bytes = new TextEncoder().encode('{"type":"ack","payload":{"commandId":"cmd-2"}}');
    expect(parseAgentFrame(bytes.buffer as ArrayBuffer)).toMatchObject({ type: "ack" });
  });

  it.each([
    ["bad JSON", "{"],
    ["an array", "[1]"],
    ["no payload", '{"type":"ack"}'],
    ["unknown type", '{"type":"pong"}'],
    ["a command id that is not a string", '{"type":"complete","payload":{"commandId":1}}'],
    ["a result that is not an object", '{"type":"complete","payload":{"commandId":"c","result":[1]}}'],
    ["a status frame without state", '{"type":"status","payload":{"sessionId":"s"}}'],
    ["an object timestamp", '{"type":"ack","timestamp":{},"payload":{"commandId":"c"}}'],
  ])("returns null for %s", (_what, text) => {
    expect(parseAgentFrame(text)).toBeNull();
  });
});

describe("encodeCommandFrame", () => {
  it("writes one object with no timestamp and {} for a NULL payload (checklist 13, 14)", () => {
    const text = encodeCommandFrame({ commandId: "cmd-1", action: "stop_session", payload: null });
    expect(JSON.parse(text)).toEqual({ type: "command", payload: { commandId: "cmd-1", action: "stop_session", payload: {} } });
    expect(text).not.toContain("\n");
  });
});
