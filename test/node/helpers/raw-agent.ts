/**
 * A bare agent socket for tests that must choose every frame themselves (when, which, in what
 * order): no registration, no heartbeat timer, no answers of its own.
 */
import WebSocket from "ws";

export type RawAgent = {
  ws: WebSocket;
  /** Server messages received so far, parsed. */
  received: Array<{ type: string; payload?: any }>;
  /** Set once the socket closed. */
  closed: { code: number; reason: string } | null;
  send(frame: unknown): void;
  close(): Promise<void>;
};

export async function openRawAgent(wsUrl: string, agentId: string, apiKey: string): Promise<RawAgent> {
  const ws = new WebSocket(`${wsUrl}/api/v1/agents/connect?agent_id=${encodeURIComponent(agentId)}`, {
    headers: { "X-Agent-API-Key": apiKey },
    perMessageDeflate: false,
  });
  const agent: RawAgent = {
    ws,
    received: [],
    closed: null,
    send: (frame) => ws.send(JSON.stringify(frame)),
    close: () =>
      new Promise((resolve) => {
        if (agent.closed) return resolve();
        ws.once("close", () => resolve());
        ws.close(1000, "test done");
      }),
  };
  ws.on("message", (data) => agent.received.push(JSON.parse(data.toString())));
  ws.on("close", (code, reason) => (agent.closed = { code, reason: reason.toString() }));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return agent;
}

/** The command frames `agent` has received, by command id, in arrival order. */
export const commandIds = (agent: RawAgent): string[] =>
  agent.received.filter((m) => m.type === "command").map((m) => String(m.payload.commandId));

/** k8s-agent frames, as a raw agent sends them. */
export const frames = {
  ack: (commandId: string) => ({ type: "ack", timestamp: new Date().toISOString(), payload: { commandId } }),
  complete: (commandId: string, result: Record<string, unknown>) => ({
    type: "complete",
    timestamp: new Date().toISOString(),
    payload: { commandId, result },
  }),
  heartbeat: (capacity: Record<string, unknown>) => ({
    type: "heartbeat",
    timestamp: new Date().toISOString(),
    payload: { status: "online", activeSessions: 0, capacity },
  }),
};
