/**
 * The sweep: one batched, idempotent pass that hands pending commands to their agents' DOs, so
 * rows inserted by any path (even by hand in SQL) are delivered. Overlapping runs are safe: the
 * DO drains one agent's queue at a time and claims rows with SKIP LOCKED.
 */
import { requestDeliveryNow } from "../agent/stub";
import type { Db } from "../db/client";
import { commandAgentsWithPending } from "../db/queries/commands";

export type SweepOptions = {
  /** Leave commands younger than this to the API's fast path. */
  graceSeconds: number;
  /** Agents handled per run; the rest wait for the next run. */
  maxAgents: number;
  /** DO calls in flight at once. */
  concurrency: number;
};

export const DEFAULT_SWEEP_OPTIONS: SweepOptions = { graceSeconds: 5, maxAgents: 1000, concurrency: 20 };

export type SweepResult = { agents: number; delivered: number; offline: number; errors: number };

export async function runSweep(env: Env, db: Db, options: SweepOptions): Promise<SweepResult> {
  const agentIds = await commandAgentsWithPending(db, options.graceSeconds, options.maxAgents);
  const result: SweepResult = { agents: agentIds.length, delivered: 0, offline: 0, errors: 0 };
  let next = 0;
  const worker = async () => {
    while (next < agentIds.length) {
      const agentId = agentIds[next++]!;
      try {
        const outcome = await requestDeliveryNow(env, agentId);
        if (outcome.ok) result.delivered += outcome.sent;
        else result.offline++;
      } catch {
        result.errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, agentIds.length) }, worker));
  return result;
}
