/**
 * Checklist 50: a session stuck `terminating` whose agent is online gets its stop sent once more
 * (the original re-sent it every minute, forever). Used by the sweep.
 */
import type { Db } from "../db/client";
import { commandCountForSession, commandInsert } from "../db/queries/commands";
import { sessionLock } from "../db/queries/sessions";
import { transaction } from "../db/transaction";
import { commandDeadline } from "../lib/delivery-policy";
import type { DeliveryPolicy } from "../lib/delivery-policy";
import { newCommandId } from "../lib/ids";

/** Inserts one retry `stop_session {sessionId, deletePVC:false}` unless one was already retried. */
export async function retryStuckStop(db: Db, session: { id: string; agentId: string }, policy: DeliveryPolicy): Promise<boolean> {
  return transaction(db, async (tx) => {
    // The row lock serialises overlapping sweeps: the second one skips this session.
    if (!(await sessionLock(tx, session.id, "terminating"))) return false;
    // The stops since it became `terminating`: a stop from before (one removing the pod of a
    // start that ran after it failed) is not a retry of the one that is stuck.
    if ((await commandCountForSession(tx, session.id, "stop_session", { sinceSessionMoved: true })) > 1) return false;
    await commandInsert(tx, {
      commandId: newCommandId(),
      agentId: session.agentId,
      sessionId: session.id,
      action: "stop_session",
      payload: { sessionId: session.id, deletePVC: false },
      expiresAt: commandDeadline(policy, "stop_session"),
      maxAttempts: policy.maxAttempts,
    });
    return true;
  });
}
