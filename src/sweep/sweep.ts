/**
 * The sweep: one batched, idempotent pass that repairs whatever the fast path missed, run by the
 * cron trigger every minute (or `npm run sweep`). Each step is bounded in rows, the whole pass in
 * time; what is left waits for the next run. Every step's WHERE carries its own state guard and
 * row claims use SKIP LOCKED, so overlapping or repeated runs do no harm.
 *
 * Order matters: leases and deadlines are settled before delivery, so a command freed by an
 * expired lease (backoff over) or one that just expired is seen correctly by the delivery step.
 */
import { getAgentStub, requestDeliveryNow } from "../agent/stub";
import type { Db } from "../db/client";
import { agentListStaleOnline, agentMarkOfflineIfStale } from "../db/queries/agents";
import {
  commandAgentsWithPending,
  commandDeleteFinished,
  commandExpireDeadlines,
  commandExpireLeases,
} from "../db/queries/commands";
import { idempotencyDeleteOld } from "../db/queries/idempotency";
import { transaction } from "../db/transaction";
import { sessionEndOrphaned, sessionGiveUpOnAgent, sessionListStuckTerminating } from "../db/queries/sessions";
import type { DeliveryPolicy } from "../lib/delivery-policy";
import { sessionsAfterFailure } from "../sessions/command-outcome";
import { retryStuckStop } from "../sessions/reconcile";

export type SweepOptions = {
  /** Leave commands younger than this to the API's fast path. */
  graceSeconds: number;
  /** Rows one step touches per run. */
  batch: number;
  /** Agents handed to their DO per run. */
  maxAgents: number;
  /** DO calls in flight at once. */
  concurrency: number;
  /** The pass stops starting new steps after this long. */
  timeBudgetMs: number;
  /** An `online` agent whose stored heartbeat is older than this is checked with its DO. Must
   * exceed the DO's write interval plus a heartbeat (55 + 30 s), see agent/liveness.ts. */
  staleAgentSeconds: number;
  /** Checklist 50: retry a stop after this long `terminating`; give up on a gone agent after forceMinutes. */
  stuckMinutes: number;
  forceMinutes: number;
  /** Idempotency keys are kept this long. */
  idempotencyHours: number;
};

export const DEFAULT_SWEEP_OPTIONS: SweepOptions = {
  graceSeconds: 5,
  batch: 500,
  maxAgents: 1000,
  concurrency: 20,
  timeBudgetMs: 25_000,
  staleAgentSeconds: 120,
  stuckMinutes: 5,
  forceMinutes: 10,
  idempotencyHours: 24,
};

export type SweepResult = {
  redelivering: number;
  failedNoAnswer: number;
  expired: number;
  agentsOffline: number;
  stopsRetried: number;
  sessionsTerminated: number;
  sessionsFailed: number;
  deleted: number;
  agents: number;
  delivered: number;
  errors: number;
  /** False when the time budget ran out: the rest is left for the next run. */
  complete: boolean;
};

/** True when the pass changed something worth a log line. */
export function sweepChangedAnything(r: SweepResult): boolean {
  const { complete: _complete, agents: _agents, ...counts } = r;
  return Object.values(counts).some((n) => n > 0) || !r.complete;
}

export async function runSweep(env: Env, db: Db, policy: DeliveryPolicy, options: SweepOptions): Promise<SweepResult> {
  const started = Date.now();
  const inBudget = () => Date.now() - started < options.timeBudgetMs;
  const r: SweepResult = {
    redelivering: 0,
    failedNoAnswer: 0,
    expired: 0,
    agentsOffline: 0,
    stopsRetried: 0,
    sessionsTerminated: 0,
    sessionsFailed: 0,
    deleted: 0,
    agents: 0,
    delivered: 0,
    errors: 0,
    complete: true,
  };
  const countError = () => {
    r.errors++;
  };
  const step = async (fn: () => Promise<void>) => {
    if (!inBudget()) {
      r.complete = false;
      return;
    }
    try {
      await fn();
    } catch {
      r.errors++; // one failing step must not stop the others; the next run retries it
    }
  };

  // 1. Expired leases: back to pending behind a backoff, or failed after max attempts. The
  // commands and their sessions change in one transaction: a command already final is never
  // selected again, so a session left behind by a failure half-way would stay stuck.
  // The sessions move in one statement, so the locks last two round trips, not one per session.
  await step(async () => {
    const outcome = await transaction(db, async (tx) => {
      const cmds = await commandExpireLeases(tx, options.batch);
      const failed = cmds.filter((cmd) => cmd.status === "failed");
      await sessionsAfterFailure(tx, failed);
      return { failed: failed.length, redelivering: cmds.length - failed.length };
    });
    r.failedNoAnswer += outcome.failed;
    r.redelivering += outcome.redelivering;
  });

  // 2. Deadlines: pending commands past expires_at end expired, never sent (one transaction, as above).
  await step(async () => {
    r.expired += await transaction(db, async (tx) => {
      const cmds = await commandExpireDeadlines(tx, options.batch);
      await sessionsAfterFailure(tx, cmds);
      return cmds.length;
    });
  });

  // 3. Backstop for missed alarms: agents still online with a stale heartbeat. The DO knows
  // whether a socket is really there; if so it re-asserts online, else the agent goes offline.
  await step(async () => {
    await forEachBounded(await agentListStaleOnline(db, options.staleAgentSeconds, options.batch), options.concurrency, async (agentId) => {
      const alive = await getAgentStub(env, agentId).confirmOnline();
      if (!alive && (await agentMarkOfflineIfStale(db, agentId, options.staleAgentSeconds))) r.agentsOffline++;
    }, countError);
  });

  // 4. Session reconciler (checklist 50).
  await step(async () => {
    for (const s of await sessionListStuckTerminating(db, options.stuckMinutes, options.batch)) {
      if (await retryStuckStop(db, s, policy)) {
        r.stopsRetried++;
        await requestDeliveryNow(env, s.agentId).catch(countError); // the fast path, as the API would
      }
    }
    r.sessionsTerminated += (await sessionGiveUpOnAgent(db, "terminating", "terminated", options.forceMinutes, options.batch)).length;
    r.sessionsFailed += (await sessionGiveUpOnAgent(db, "pending", "failed", options.forceMinutes, options.batch)).length;
    r.sessionsTerminated += (await sessionEndOrphaned(db, options.forceMinutes, options.batch)).length;
  });

  // 5. Delivery: pending commands of connected agents go to their DO.
  await step(async () => {
    const agentIds = await commandAgentsWithPending(db, options.graceSeconds, options.maxAgents);
    r.agents = agentIds.length;
    await forEachBounded(agentIds, options.concurrency, async (agentId) => {
      const outcome = await requestDeliveryNow(env, agentId);
      if (outcome.ok) r.delivered += outcome.sent;
    }, countError);
  });

  // 6. Retention, in bounded batches until done or out of time.
  await step(async () => {
    for (let n = options.batch; n === options.batch && inBudget(); ) {
      n = await commandDeleteFinished(db, policy.retentionDays, options.batch);
      r.deleted += n;
    }
    // Looped too: keys are written once per keyed request, so one batch a minute falls behind
    // any client sending more than about eight a second.
    for (let n = options.batch; n === options.batch && inBudget(); ) {
      n = await idempotencyDeleteOld(db, options.idempotencyHours, options.batch);
    }
  });

  return r;
}

/** Runs `fn` over `items` with at most `concurrency` in flight; a failing item does not stop the rest. */
async function forEachBounded<T>(
  items: T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
  onError: () => void,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item).catch(onError);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
