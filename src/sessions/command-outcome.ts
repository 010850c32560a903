/**
 * What a finished command does to its session (checklist 49; README "Compatibility"). Used by
 * the agent's frames and by the sweep when a command fails for lack of an answer or expires.
 */
import type { Queryable } from "../db/client";
import { sessionTransitionForAgent } from "../db/queries/sessions";

/** The session state a completed command leaves behind, by action. */
const AFTER_COMPLETE: Record<string, { from: readonly string[]; to: string } | undefined> = {
  start_session: { from: ["pending"], to: "running" },
  stop_session: { from: ["pending", "running", "hibernating", "hibernated", "waking", "terminating"], to: "terminated" },
  hibernate_session: { from: ["hibernating"], to: "hibernated" },
  wake_session: { from: ["waking"], to: "running" },
};

/** Where a session goes back to when its command fails, expires or is cancelled. */
const AFTER_FAILURE: Record<string, { from: readonly string[]; to: string } | undefined> = {
  start_session: { from: ["pending"], to: "failed" },
  hibernate_session: { from: ["hibernating"], to: "running" },
  wake_session: { from: ["waking"], to: "hibernated" },
};

/** States an agent may report in `complete.result.state`; anything else falls back to the action's. */
const RESULT_STATES = new Set(["running", "hibernated", "terminated", "failed"]);

type Finished = { agentId: string | null; sessionId: string | null; action: string };

export async function sessionAfterComplete(db: Queryable, cmd: Finished, result: unknown): Promise<void> {
  const move = AFTER_COMPLETE[cmd.action];
  if (!cmd.sessionId || !cmd.agentId || !move) return;
  const reported = typeof result === "object" && result !== null ? (result as Record<string, unknown>)["state"] : undefined;
  const to = typeof reported === "string" && RESULT_STATES.has(reported) ? reported : move.to;
  await sessionTransitionForAgent(db, cmd.agentId, cmd.sessionId, move.from, to);
}

export async function sessionAfterFailure(db: Queryable, cmd: Finished): Promise<void> {
  const move = AFTER_FAILURE[cmd.action];
  if (!cmd.sessionId || !cmd.agentId || !move) return;
  await sessionTransitionForAgent(db, cmd.agentId, cmd.sessionId, move.from, move.to);
}
