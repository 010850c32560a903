/**
 * Scenario 3, sweep drain: a backlog inserted straight into Postgres (as an operator or another
 * system would), older than the sweep's grace period, across connected agents; the cron handler
 * is invoked back to back until every command has reached its agent. Measures the repair path.
 */
import { AgentFleet } from "../agents";
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
    await connectAndWaitOnline(ctx, fleet, creds, prefix, { concurrency: 100 });
    fleet.startHeartbeats(20_000);
    progress.update(`inserting ${opts.commands} commands in SQL`);
    // created_at a minute back: the sweep skips commands younger than its grace (5 s).
    await stack.sql.query(
      `insert into agent_commands (command_id, agent_id, action, payload, created_at)
       select 'sweep-cmd-' || g, 'sweep-' || (g % $2), 'stop_session', jsonb_build_object('sessionId', 'sweep-s-' || g),
              now() - interval '1 minute' + g * interval '1 microsecond'
       from generate_series(0, $1 - 1) as g`,
      [opts.commands, opts.agents],
    );
    const started = now();
    let sweeps = 0;
    const stopTicker = progress.ticker(() => `${seen.size}/${opts.commands} received after ${sweeps} sweep(s)`);
    try {
      while (seen.size < opts.commands) {
        if (sweeps >= SWEEP_LIMIT) throw new Error(`${opts.commands - seen.size} commands undelivered after ${sweeps} sweeps`);
        await stack.worker.sweep();
        sweeps++;
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
    };
    progress.line(`  sweep drain: ${result.perSecond} commands/s (${opts.commands} over ${opts.agents} agents, ${sweeps} sweep call(s))`);
    return result;
  } finally {
    await retireFleet(ctx, fleet, prefix);
  }
}
