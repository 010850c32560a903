/**
 * DELETE / hibernate / wake: check the session's state, then move it and enqueue the agent
 * command in one transaction (spec §5.2; checklist 44–46).
 */
import type { Db } from "../db/client";
import { commandCountForSession, commandInsert } from "../db/queries/commands";
import { sessionGetById, sessionLock, sessionTransition } from "../db/queries/sessions";
import type { StatesFrom } from "../db/queries/sessions";
import type { CommandRow, SessionRow } from "../db/schema";
import { transaction } from "../db/transaction";
import { AppError } from "../errors";
import { commandDeadline } from "../lib/delivery-policy";
import type { DeliveryPolicy } from "../lib/delivery-policy";
import { newCommandId } from "../lib/ids";

type Action = "stop_session" | "hibernate_session" | "wake_session";

const RULES: Record<Action, { from: StatesFrom; to: string; wrongState: (s: SessionRow) => AppError }> = {
  stop_session: {
    // Any state but these (spec §5.2), NULL or one only an import leaves ("starting") included:
    // such a session would otherwise have no way to end.
    from: { not: ["terminating", "terminated"] },
    to: "terminating",
    wrongState: (s) =>
      new AppError("conflict", "Session already terminating", `Session is already in ${s.state} state`),
  },
  hibernate_session: {
    from: ["running"],
    to: "hibernating",
    wrongState: (s) =>
      new AppError(
        "conflict",
        "Invalid session state",
        `Session must be in 'running' state to hibernate, currently: ${s.state}`,
      ),
  },
  wake_session: {
    from: ["hibernated"],
    to: "waking",
    wrongState: (s) =>
      new AppError(
        "conflict",
        "Invalid session state",
        `Session must be in 'hibernated' state to wake, currently: ${s.state}`,
      ),
  },
};

/**
 * Loads the session (404 if absent or, for non-admins, not theirs), checks it, and writes the
 * state change and the command together. Returns the command for delivery.
 */
export async function requestSessionAction(
  db: Db,
  sessionId: string,
  action: Action,
  actor: { userId: string; isAdmin: boolean },
  policy: DeliveryPolicy,
): Promise<{ session: SessionRow; command: CommandRow & { olderPendingIds: string[] } }> {
  const session = await sessionGetById(db, sessionId);
  if (!session || (!actor.isAdmin && session.userId !== actor.userId)) {
    throw new AppError("not_found", "Session not found", "The specified session does not exist");
  }
  const agentId = session.agentId;
  if (!agentId) {
    throw new AppError("conflict", "Session not ready", "Session has no agent assigned - cannot proceed.");
  }
  const rule = RULES[action];
  const stopAgain = action === "stop_session" && session.state === "terminating";
  if (!mayMove(rule.from, session.state) && !stopAgain) throw rule.wrongState(session);

  return transaction(db, async (tx) => {
    if (stopAgain) {
      // A session whose every stop failed or was cancelled stays `terminating` with nothing left
      // to move it (the sweep retries a stop once, and gives up only on an agent that is gone):
      // a DELETE sends another. While a stop is still open, it answers 409 as before. The row
      // lock serialises this with a concurrent DELETE and the sweep's retry.
      const locked = await sessionLock(tx, session.id, "terminating", { wait: true });
      if (!locked || (await commandCountForSession(tx, session.id, "stop_session", { openOnly: true })) > 0) {
        throw rule.wrongState((await sessionGetById(tx, session.id)) ?? session);
      }
    } else if (!(await sessionTransition(tx, session.id, rule.from, rule.to))) {
      // The guard in the UPDATE catches a concurrent request that changed the state meanwhile.
      const current = (await sessionGetById(tx, session.id)) ?? session;
      throw rule.wrongState(current);
    }
    const command = await commandInsert(tx, {
      commandId: newCommandId(),
      agentId,
      sessionId: session.id,
      action,
      payload: { sessionId: session.id, namespace: session.namespace ?? "streamspace" },
      expiresAt: commandDeadline(policy, action),
      maxAttempts: policy.maxAttempts,
    });
    return { session: { ...session, state: rule.to }, command };
  });
}

function mayMove(from: StatesFrom, state: string | null): boolean {
  return "not" in from ? state === null || !from.not.includes(state) : state !== null && from.includes(state);
}
