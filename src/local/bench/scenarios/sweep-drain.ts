/**
 * Scenario 3, sweep drain: a backlog inserted straight into Postgres (as an operator or another
 * system would), older than the sweep's grace period, across connected agents; the cron handler
 * is invoked back to back until every command has reached its agent. Measures the repair path.
 */
import { AGENT_HEARTBEAT_MS, AgentFleet } from "../agents";
import { perSecond } from "../stats";
import { now } from "../util";
import type { BenchContext } from "./common";
import { connectAndWaitOnline, retireFleet } from "./common";

export type SweepDrainResult = {
  commands: number;
  agents: number;
  sweeps: number;
  elapsedMs: number;
  perSecond: number;
  /** Frames beyond one per command (a re-delivery would show here). */
  duplicates: number;
  /** Commands that reached an agent before the first sweep call: should be 0 (nothing else delivers them). */
  receivedBeforeSweep: number;
};

const SWEEP_LIMIT = 50;

export async function runSweepDrain(ctx: BenchContext, opts: { commands: number; agents: number }): Promise<SweepDrainResult> {
  const { stack, progress } = ctx;
  const prefix = "sweep";
  const seen = new Set<string>();
  let frames = 0;
  let lastNewAt = 0;
  // Silent agents: the figure is delivery, and answers would compete with the sweep for Postgres.
  const fleet = new AgentFleet({
    wsUrl: stack.wsUrl(),
    answer: "none",
    onCommand: (ev) => {
      frames++;
      if (seen.has(ev.commandId)) return;
      seen.add(ev.commandId);
      lastNewAt = ev.at;
    },
  });
  const creds = await stack.makeAgents(prefix, opts.agents);
  try {
    fleet.startHeartbeats(AGENT_HEARTBEAT_MS);
    await connectAndWaitOnline(ctx, fleet, creds, prefix, { concurrency: 100 });
    // Connect drains (online write, re-queue, claim) lag behind the online write under a burst:
    // one still to claim would take the backlog before the sweep ever sees it.
    progress.update("waiting for the connect drains to finish");
    if (!(await stack.stats.waitQuiet(1_000))) progress.line("  note: Postgres did not go quiet before the backlog insert");
    progress.update(`inserting ${opts.commands} commands in SQL`);
    // created_at a minute back: the sweep skips commands younger than its grace (5 s).
    await stack.sql.query(
      `insert into agent_commands (command_id, agent_id, action, payload, created_at)
       select 'sweep-cmd-' || g, 'sweep-' || (g % $2), 'stop_session', jsonb_build_object('sessionId', 'sweep-s-' || g),
              now() - interval '1 minute' + g * interval '1 microsecond'
       from generate_series(0, $1 - 1) as g`,
      [opts.commands, opts.agents],
    );
    const receivedBeforeSweep = seen.size;
    const started = now();
    let sweeps = 0;
    const stopTicker = progress.ticker(() => `${seen.size}/${opts.commands} received after ${sweeps} sweep(s)`);
    try {
      let idleSweeps = 0;
      while (seen.size < opts.commands) {
        if (sweeps >= SWEEP_LIMIT || idleSweeps >= 3) {
          throw new Error(`${opts.commands - seen.size} commands undelivered after ${sweeps} sweeps (${idleSweeps} in a row delivered nothing)`);
        }
        const before = seen.size;
        await stack.worker.sweep();
        sweeps++;
        idleSweeps = seen.size === before ? idleSweeps + 1 : 0;
      }
    } finally {
      stopTicker();
    }
    const elapsedMs = lastNewAt - started;
    const result: SweepDrainResult = {
      commands: opts.commands,
      agents: opts.agents,
      sweeps,
      elapsedMs,
      perSecond: perSecond(opts.commands, elapsedMs),
      duplicates: frames - seen.size,
      receivedBeforeSweep,
    };
    progress.line(`  sweep drain: ${result.perSecond} commands/s (${opts.commands} over ${opts.agents} agents, ${sweeps} sweep call(s))`);
    return result;
  } finally {
    await retireFleet(ctx, fleet, prefix);
  }
}
