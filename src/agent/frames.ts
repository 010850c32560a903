/**
 * What each agent frame does to the database. Used only by AgentObject; covered by
 * test/integration/agent.frames.test.ts and the session lifecycle tests.
 */
import type { Db } from "../db/client";
import { agentMarkOnline } from "../db/queries/agents";
import { commandAck, commandComplete, commandFail } from "../db/queries/commands";
import { sessionApplyAgentStatus, sessionTransitionForAgent } from "../db/queries/sessions";
import type { AgentFrame } from "./protocol";
import { SESSION_AFTER_COMPLETE, SESSION_AFTER_FAILED } from "./protocol";

/** States an agent may report in `complete.result.state`; anything else falls back to the action's. */
const RESULT_STATES = new Set(["running", "hibernated", "terminated", "failed"]);

/** Applies one parsed frame from `agentId`. Frames naming other agents' rows change nothing. */
export async function applyAgentFrame(db: Db, agentId: string, frame: AgentFrame): Promise<void> {
  switch (frame.type) {
    case "heartbeat":
      // status/activeSessions are informational on the WebSocket path (checklist 20).
      await agentMarkOnline(db, agentId, frame.payload.capacity ?? undefined);
      return;
    case "ack":
      await commandAck(db, agentId, frame.payload.commandId);
      return;
    case "complete": {
      const row = await commandComplete(db, agentId, frame.payload.commandId, frame.payload.result);
      const move = row?.sessionId ? SESSION_AFTER_COMPLETE[row.action] : undefined;
      if (row?.sessionId && move) {
        const reported = frame.payload.result?.["state"];
        const to = typeof reported === "string" && RESULT_STATES.has(reported) ? reported : move.to;
        await sessionTransitionForAgent(db, agentId, row.sessionId, move.from, to);
      }
      return;
    }
    case "failed": {
      const row = await commandFail(db, agentId, frame.payload.commandId, frame.payload.error);
      const move = row?.sessionId ? SESSION_AFTER_FAILED[row.action] : undefined;
      if (row?.sessionId && move) {
        await sessionTransitionForAgent(db, agentId, row.sessionId, move.from, move.to);
      }
      return;
    }
    case "status": {
      const p = frame.payload;
      const vncReady = p.vncReady === true && (p.vncPort ?? 0) > 0;
      await sessionApplyAgentStatus(db, agentId, {
        sessionId: p.sessionId,
        state: p.state,
        podName: p.platformMetadata?.podName ?? "",
        url: vncReady ? `/api/v1/sessions/${p.sessionId}/vnc` : "",
      });
      return;
    }
  }
}
