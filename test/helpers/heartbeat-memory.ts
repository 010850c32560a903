/** The agent's object's heartbeat memory (in its open socket's attachment, see attachment.ts), read and moved back in time. */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { AgentObject } from "../../src/agent/agent-object";
import { readAttachment } from "../../src/agent/attachment";
import type { HeartbeatMemory } from "../../src/agent/liveness";

const stub = (agentId: string) => env.AGENT.getByName(agentId);
const openSocket = (state: DurableObjectState) => state.getWebSockets().find((ws) => ws.readyState === WebSocket.OPEN)!;

export const readMemory = (agentId: string): Promise<HeartbeatMemory> =>
  runInDurableObject(stub(agentId), (_o: AgentObject, state) => readAttachment(openSocket(state))!.heartbeat);

/** Moves the last heartbeat seen, and the last one written, `ms` into the past. */
export const rewind = (agentId: string, ms: { seen?: number; written?: number }) =>
  runInDurableObject(stub(agentId), (_o: AgentObject, state) => {
    const ws = openSocket(state);
    const a = readAttachment(ws)!;
    const m = a.heartbeat;
    ws.serializeAttachment({ ...a, heartbeat: { ...m, seen: m.seen - (ms.seen ?? 0), written: m.written - (ms.written ?? 0) } });
  });
