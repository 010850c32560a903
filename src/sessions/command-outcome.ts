/**
 * What a finished command does to its session (checklist 49; README "Compatibility"). Used by
 * the agent's frames and by the sweep when a command fails for lack of an answer or expires.
 */
import type { Queryable } from "../db/client";
import type { SessionMoves } from "../db/queries/command-finish";
import { commandCountForSession } from "../db/queries/commands";
import { sessionTransitionForAgent, sessionTransitionsForAgents } from "../db/queries/sessions";
import type { SessionMove } from "../db/queries/sessions";

/** The session state a completed command leaves behind, by action. */
export const AFTER_COMPLETE: SessionMoves = {
  start_session: { from: ["pending"], to: "running" },
  stop_session: { from: ["pending", "running", "hibernating", "hibernated", "waking", "terminating"], to: "terminated" },
  hibernate_session: { from: ["hibernating"], to: "hibernated" },
  wake_session: { from: ["waking"], to: "running" },
};

/** Where a session goes back to when its command fails, expires or is cancelled. */
export const AFTER_FAILURE: SessionMoves = {
  start_session: { from: ["pending"], to: "failed" },
  hibernate_session: { from: ["hibernating"], to: "running" },
  wake_session: { from: ["waking"], to: "hibernated" },
};

/**
 * A user's action under way, and the state its command completes it to. Meanwhile a `status`
 * frame may only report that outcome: a stale one (the `running` of a start queued ahead of the
 * user's stop) would undo the action, and the action's completion, which moves the session only
 * from the under-way state, would then change nothing.
 */
const UNDER_WAY: Record<string, string> = { terminating: "terminated", hibernating: "hibernated", waking: "running" };

/**
 * The session states a `status` frame reporting `reported` must leave alone; `terminated` is
 * final. `failed` is left only for `terminated`: agents send `status` as they run a command, and
 * one for a failed session is of a start it ran after its session failed here (cancelled by an
 * administrator, failed or expired for lack of an answer). Its `complete` then gets the pod
 * stopped (migration 0015), which the session's `running` would have prevented. An administrator's
 * retry moves the session back to `pending` before its start is sent again.
 */
export function statusMayNotMove(reported: string): string[] {
  return [
    "terminated",
    ...(reported === "terminated" ? [] : ["failed"]),
    ...Object.entries(UNDER_WAY).flatMap(([from, to]) => (to === reported ? [] : [from])),
  ];
}

/** States an agent may report in `complete.result.state`; anything else falls back to the action's. */
const RESULT_STATES = new Set(["running", "hibernated", "terminated", "failed"]);

type Finished = { agentId: string | null; sessionId: string | null; action: string };

/** The state an agent reported in `complete.result.state`, if it is one a session may take. */
export function reportedState(result: unknown): string | null {
  const reported = typeof result === "object" && result !== null ? (result as Record<string, unknown>)["state"] : undefined;
  return typeof reported === "string" && isReportableState(reported) ? reported : null;
}

/**
 * Whether an agent may put a session in `state` (by `status` or a completion). Any other state
 * ("starting", or "waking" with no wake under way) would leave the session where no completion
 * moves it and every user action is refused.
 */
export function isReportableState(state: string): boolean {
  return RESULT_STATES.has(state);
}

export async function sessionAfterFailure(db: Queryable, cmd: Finished): Promise<void> {
  const move = AFTER_FAILURE[cmd.action];
  if (!cmd.sessionId || !cmd.agentId || !move) return;
  await sessionTransitionForAgent(db, cmd.agentId, cmd.sessionId, move.from, move.to);
}

/** sessionAfterFailure for a batch of commands, in one statement (the sweep's). */
export async function sessionsAfterFailure(db: Queryable, cmds: readonly Finished[]): Promise<void> {
  const moves = cmds.flatMap((cmd): SessionMove[] => {
    const move = AFTER_FAILURE[cmd.action];
    return cmd.sessionId && cmd.agentId && move ? [{ sessionId: cmd.sessionId, agentId: cmd.agentId, from: move.from, to: move.to }] : [];
  });
  await sessionTransitionsForAgents(db, moves);
}

/**
 * A failed or expired command queued again (admin retry): its session goes back to the state
 * the command left it from, so the command's completion moves it as the first attempt's would
 * have. False when the session has moved on since the failure (a user stopped it, say), or a
 * stop of it is open (one queued to remove the pod of a start that ran after it failed,
 * migration 0015): then the retry must not go ahead, and the caller rolls back the move. Past
 * that stop, a retried start would find its session `terminated` and start a pod only to have
 * it stopped. The move first: it takes the session's row, which a stop queued for a late answer
 * waits for (migration 0024), so the count after it sees any such stop committed. True when the
 * command has no session to move.
 */
export async function sessionBeforeRetry(db: Queryable, cmd: Finished): Promise<boolean> {
  const move = AFTER_FAILURE[cmd.action];
  if (!cmd.sessionId || !cmd.agentId || !move) return true;
  if (!(await sessionTransitionForAgent(db, cmd.agentId, cmd.sessionId, [move.to], move.from[0]!))) return false;
  return (await commandCountForSession(db, cmd.sessionId, "stop_session", { openOnly: true })) === 0;
}
