import { describe, expect, it } from "vitest";
import { MAX_FRAME_BYTES, encodeCommandFrame, frameBytes, parseAgentFrame } from "../../src/agent/protocol";

describe("parseAgentFrame", () => {
  it("accepts RFC 3339, integer, null and absent timestamps (checklist 15)", () => {
    for (const timestamp of ["2025-11-22T07:14:50.2Z", 1732257290, null, undefined]) {
      const frame = parseAgentFrame(JSON.stringify({ type: "ack", timestamp, payload: { commandId: "cmd-1" } }));
      // A null one is read as absent, as every field's null is (below).
      expect(frame).toEqual({ type: "ack", timestamp: timestamp ?? undefined, payload: { commandId: "cmd-1" } });
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

  it("brings a heartbeat's maxSessions inside 0..1,000,000 rather than ignoring the heartbeat", () => {
    const huge = parseAgentFrame(JSON.stringify({ type: "heartbeat", payload: { capacity: { maxSessions: 5_000_000_000 } } }));
    expect(huge).toMatchObject({ payload: { capacity: { maxSessions: 1_000_000 } } });
    const negative = parseAgentFrame(JSON.stringify({ type: "heartbeat", payload: { capacity: { maxSessions: -1 } } }));
    expect(negative).toMatchObject({ payload: { capacity: { maxSessions: 0 } } });
  });

  it("cuts an overlong error to 10,000 characters rather than ignoring the failure", () => {
    const error = "e".repeat(20_000);
    const failed = parseAgentFrame(JSON.stringify({ type: "failed", payload: { commandId: "c", error } }));
    expect(failed).toMatchObject({ type: "failed", payload: { commandId: "c", error: "e".repeat(10_000) } });
    const dockerError = parseAgentFrame(JSON.stringify({ type: "command_error", commandId: "c", error }));
    expect(dockerError).toMatchObject({ error: "e".repeat(10_000) });
    const reply = parseAgentFrame(JSON.stringify({ type: "command_response", success: false, sessionId: "s", error }));
    expect(reply).toMatchObject({ error: "e".repeat(10_000) });
    expect(parseAgentFrame(JSON.stringify({ type: "failed", payload: { commandId: "c" } }))).toMatchObject({ payload: { error: "" } });
    // An emoji across the cut is dropped whole, not halved.
    const straddling = parseAgentFrame(JSON.stringify({ type: "failed", payload: { commandId: "c", error: `${"e".repeat(9_999)}😀tail` } }));
    expect(straddling).toMatchObject({ payload: { error: "e".repeat(9_999) } });
  });

  it("takes NULs out of an answer rather than ignoring it (Postgres cannot store them)", () => {
    const failed = parseAgentFrame(JSON.stringify({ type: "failed", payload: { commandId: "cmd-1", error: "exec: \u0000\u0001 binary" } }));
    expect(failed).toMatchObject({ type: "failed", payload: { commandId: "cmd-1", error: "exec: \u0001 binary" } });
    const complete = parseAgentFrame(JSON.stringify({ type: "complete", payload: { commandId: "cmd-2", result: { "log\u0000": ["a\u0000b"] } } }));
    expect(complete).toMatchObject({ payload: { commandId: "cmd-2", result: { log: ["ab"] } } });
  });

  it("replaces half a surrogate pair with U+FFFD rather than ignoring the answer (Neon's endpoint refuses one)", () => {
    // JSON.stringify writes a lone surrogate as an escape, as an agent's encoder may.
    const failed = parseAgentFrame(JSON.stringify({ type: "failed", payload: { commandId: "cmd-1", error: "bad \ud800 byte, pair 😀 kept" } }));
    expect(failed).toMatchObject({ payload: { error: "bad \ufffd byte, pair 😀 kept" } });
    const complete = parseAgentFrame(JSON.stringify({ type: "complete", payload: { commandId: "cmd-2", result: { "k\udc00": ["\udbff"] } } }));
    expect(complete).toMatchObject({ payload: { result: { "k\ufffd": ["\ufffd"] } } });
  });

  it("reads a field sent as null as absent, as Go's decoder did, and keeps nulls inside a result", () => {
    expect(parseAgentFrame('{"type":"heartbeat","payload":{"status":null,"activeSessions":null,"capacity":null}}')).toMatchObject({ type: "heartbeat" });
    expect(parseAgentFrame('{"type":"failed","payload":{"commandId":"c","error":null}}')).toMatchObject({ payload: { commandId: "c", error: "" } });
    expect(parseAgentFrame('{"type":"status","payload":{"sessionId":"s","state":"running","vncReady":null,"vncPort":null}}')).toMatchObject({ type: "status" });
    expect(parseAgentFrame('{"type":"command_response","success":true,"sessionId":"s","status":null,"error":null}')).toMatchObject({ success: true });
    expect(parseAgentFrame('{"type":"complete","payload":{"commandId":"c","result":{"podName":null}}}')).toMatchObject({ payload: { result: { podName: null } } });
    expect(parseAgentFrame('{"type":"ack","payload":{"commandId":null}}')).toBeNull();
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

describe("frameBytes", () => {
  it("counts a text frame in UTF-8 bytes, as the original's read limit does", () => {
    expect(frameBytes("x".repeat(1000))).toBe(1000);
    expect(frameBytes("é".repeat(200_000))).toBe(400_000);
    expect(frameBytes("é".repeat(300_000))).toBe(600_000);
    expect(frameBytes("é".repeat(300_000)) > MAX_FRAME_BYTES).toBe(true);
    expect(frameBytes(new Uint8Array(10).buffer)).toBe(10);
  });
});

describe("encodeCommandFrame", () => {
  it("writes one object with no timestamp and {} for a NULL payload (checklist 13, 14)", () => {
    const text = encodeCommandFrame({ commandId: "cmd-1", action: "stop_session", payload: null });
    expect(JSON.parse(text)).toEqual({ type: "command", payload: { commandId: "cmd-1", action: "stop_session", payload: {} } });
    expect(text).not.toContain("\n");
  });
});
