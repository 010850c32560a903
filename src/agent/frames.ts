/**
 * What each agent frame does to the database. Used only by AgentObject; covered by
 * test/conformance/b-framing.test.ts, test/node/agent.docker-dialect.test.ts and the session
 * lifecycle tests.
 */
import type { Db } from "../db/client";
import { commandFinishByAgent, commandStopEndedSessionAgain } from "../db/queries/command-finish";
import { commandAck, commandInFlightForSession, commandLastOfSessionIfEnded } from "../db/queries/commands";
import type { LeaseSettings } from "../db/queries/commands";
import { sessionAfterLateRun, sessionApplyAgentStatus } from "../db/queries/sessions";
import { AFTER_COMPLETE, AFTER_FAILURE, isReportableState, reportedState, statusMayNotMove } from "../sessions/command-outcome";
import type { AgentFrame } from "./protocol";

/**
 * Frames that change commands or sessions; heartbeats are the DO's own business (liveness). Two
 * are the object's own, never parsed from a socket: a docker-agent reply resolved to what it
 * answers (see resolveAgentFrame).
 */
export type WorkFrame = Exclude<AgentFrame, { type: "heartbeat" }> | ResolvedReply | StopAgain | LateReply;

/** A docker-agent reply with the command it answers: applied again, it changes nothing more. */
export type ResolvedReply = {
  type: "resolved_reply";
  commandId: string;
  action: string;
  sessionId: string;
  success: boolean;
  status: string;
  container: Record<string, unknown> | null;
  error: string;
};

/** A docker-agent reply that a session runs which no open command explains. */
export type StopAgain = { type: "stop_again"; sessionId: string };

/**
 * A docker-agent reply that a session reached the state its last command, a wake or hibernate
 * that ended here (expired, cancelled, failed), would have brought it to: the agent ran it late.
 */
export type LateReply = { type: "late_reply"; commandId: string; sessionId: string; state: string; container: Record<string, unknown> | null };

/**
 * A docker-agent reply names the session, not the command: it runs commands one at a time, so
 * the oldest command of that session still in flight is the one it answers. Resolved before it
 * is applied, and kept resolved if the write fails: a write whose commit may have happened
 * (a lost answer) would, matched again, answer the session's next command in its place. Any
 * other frame is returned as it is; null when a reply answers nothing.
 */
export async function resolveAgentFrame(db: Db, agentId: string, frame: WorkFrame): Promise<WorkFrame | null> {
  if (frame.type !== "command_response") return frame;
  // A success names the state it reached, which only some actions reach: the reply to a command
  // that ended here meanwhile (cancelled, say) must not settle the next one, of another action.
  const actions = frame.success && frame.status ? ACTIONS_REACHING[frame.status] : undefined;
  const cmd = await commandInFlightForSession(db, agentId, frame.sessionId, actions);
  if (!cmd) {
    if (!frame.success || !frame.status) return null;
    // The session's last command, a wake or hibernate reaching that state, ended here before the
    // agent ran it: the session shows what the agent did, as after a late `complete`.
    const late = LATE_RUN_ACTION[frame.status];
    const lateId = late ? await commandLastOfSessionIfEnded(db, agentId, frame.sessionId, late) : undefined;
    if (lateId) return { type: "late_reply", commandId: lateId, sessionId: frame.sessionId, state: frame.status, container: frame.container ?? null };
    // A container runs that no open start or wake explains: one a stop superseded that ran all
    // the same, behind the stop. If its session is terminated (or failed), it is stopped again.
    return frame.status === "running" ? { type: "stop_again", sessionId: frame.sessionId } : null;
  }
  return {
    type: "resolved_reply",
    commandId: cmd.commandId,
    action: cmd.action,
    sessionId: frame.sessionId,
    success: frame.success,
    status: frame.status ?? "",
    container: frame.container ?? null,
    error: frame.error ?? "command failed",
  };
}

/**
 * Applies one parsed frame from `agentId`. Frames naming other agents' rows change nothing.
 * Returns the id of a command the frame queued for the agent (a stop, see commandFinishByAgent),
 * for the caller to send.
 */
export async function applyAgentFrame(
  db: Db,
  agentId: string,
  frame: WorkFrame,
  policy: LeaseSettings,
): Promise<string | null> {
  switch (frame.type) {
    case "ack":
      await commandAck(db, agentId, frame.payload.commandId, policy.runLeaseSeconds);
      return null;
    case "complete":
      return (await complete(db, agentId, frame.payload.commandId, frame.payload.result ?? null, policy)).stopQueued;
    case "failed":
      await fail(db, agentId, frame.payload.commandId, frame.payload.error, policy);
      return null;
    case "command_error":
      await fail(db, agentId, frame.commandId, frame.error, policy);
      return null;
    case "command_response": {
      const resolved = await resolveAgentFrame(db, agentId, frame);
      return resolved ? applyAgentFrame(db, agentId, resolved, policy) : null;
    }
    case "resolved_reply": {
      if (frame.success) {
        const result = { sessionId: frame.sessionId, state: frame.status, container: frame.container };
        return (await complete(db, agentId, frame.commandId, result, policy)).stopQueued;
      }
      if (frame.action === "stop_session" && NO_CONTAINER.test(frame.error)) {
        await failWithNothingLeft(db, agentId, frame.commandId, frame.error, policy);
      } else {
        await fail(db, agentId, frame.commandId, frame.error, policy);
      }
      return null;
    }
    case "stop_again":
      return commandStopEndedSessionAgain(db, agentId, frame.sessionId);
    case "late_reply": {
      const result = { sessionId: frame.sessionId, state: frame.state, container: frame.container };
      if (await sessionAfterLateRun(db, agentId, frame.commandId, result, frame.state)) return null;
      // Not moved: a container that runs for a session ended meanwhile is stopped, as above.
      return frame.state === "running" ? commandStopEndedSessionAgain(db, agentId, frame.sessionId) : null;
    }
    case "status": {
      const p = frame.payload;
      if (!isReportableState(p.state)) return null;
      const vncReady = p.vncReady === true && (p.vncPort ?? 0) > 0;
      const update = {
        sessionId: p.sessionId,
        state: p.state,
        // pod_name is varchar(255): a longer name is cut rather than losing the state change.
        podName: (p.platformMetadata?.podName ?? "").slice(0, 255),
        url: vncReady ? `/api/v1/sessions/${p.sessionId}/vnc` : "",
      };
      await sessionApplyAgentStatus(db, agentId, update, statusMayNotMove(p.state));
      return null;
    }
  }
}

/** The actions whose success leaves a session in each state a docker-agent reply reports. */
const ACTIONS_REACHING: Record<string, readonly string[]> = {
  running: ["start_session", "wake_session"],
  hibernated: ["hibernate_session"],
  terminated: ["stop_session"],
};

/** The action whose late run leaves a session in each state a docker-agent reply reports. */
const LATE_RUN_ACTION: Record<string, string> = { running: "wake_session", hibernated: "hibernate_session" };

async function complete(db: Db, agentId: string, commandId: string, result: Record<string, unknown> | null, lease: LeaseSettings) {
  const session = { moves: AFTER_COMPLETE, reportedState: reportedState(result) };
  const outcome = await commandFinishByAgent(db, agentId, commandId, { status: "completed", result }, session, lease);
  // Not open: a repeat, or a wake or hibernate that ended here before the agent ran it.
  if (!outcome.finished) await sessionAfterLateRun(db, agentId, commandId, result, session.reportedState);
  return outcome;
}

/**
 * docker-agent's stop when no container carries the session's label (it was removed by hand, or
 * the host lost it): `Container not found: container not found for session: <id>`. Not when the
 * daemon could not list containers (`Container not found: failed to list containers: …`).
 */
const NO_CONTAINER = /container not found for session/i;

/**
 * A stop that failed because there is nothing left to stop: the command keeps the agent's answer,
 * but the session ends as a completed stop would end it. Left `terminating`, no stop sent again
 * could ever succeed, and the session would hold its quota slot for good.
 */
function failWithNothingLeft(db: Db, agentId: string, commandId: string, error: string, lease: LeaseSettings) {
  const session = { moves: { stop_session: AFTER_COMPLETE["stop_session"] }, reportedState: "terminated" };
  return commandFinishByAgent(db, agentId, commandId, { status: "failed", error }, session, lease);
}

function fail(db: Db, agentId: string, commandId: string, error: string, lease: LeaseSettings) {
  const session = { moves: AFTER_FAILURE, reportedState: null };
  return commandFinishByAgent(db, agentId, commandId, { status: "failed", error }, session, lease);
}
