/**
 * Scenario 5, heartbeat load: many connected agents heartbeat far faster than the real 30 s, and
 * the bench reports what each heartbeat costs: Postgres writes (the `agents` table's n_tup_upd
 * and the database's transactions) and workerd CPU time (utime+stime of its process tree).
 *
 * The DO writes Postgres for a heartbeat only when the stored one is over 55 s old or the
 * capacity changed (src/agent/liveness.ts). A warm-up heartbeat per agent (first capacity: one
 * write each) runs before the window, so the window shows the steady state: in a 20 s run no
 * stored heartbeat ages past 55 s, and ~0 writes per heartbeat is the honest expectation.
 */
import { AgentFleet } from "../agents";
import { treeCpuMs } from "../proc";
import { round } from "../stats";
import { pollProgress, sleep, waitShowing } from "../util";
import type { BenchContext } from "./common";
import { connectAndWaitOnline, retireFleet } from "./common";

export type HeartbeatResult = {
  agents: number;
  durationMs: number;
  perAgentPeriodMs: number;
  heartbeats: number;
  heartbeatsPerSecond: number;
  agentsRowUpdates: number;
  transactions: number;
  writesPerHeartbeat: number;
  transactionsPerHeartbeat: number;
  /** workerd CPU over the window (incl. draining the last frames), and per heartbeat. */
  workerdCpuMs: number | null;
  cpuMsPerHeartbeat: number | null;
  /** workerd CPU while the same agents were connected but silent, per second: the floor. */
  idleCpuMsPerSecond: number | null;
  warmupWrites: number;
  /** Sockets the server closed during the run (the fleet reconnects them); non-zero means overload. */
  drops: number;
};

const IDLE_SAMPLE_MS = 1_000;
/** Time for workerd to work through frames still queued when sending stops. */
const DRAIN_MS = 500;

export async function runHeartbeat(ctx: BenchContext, opts: { agents: number; durationMs: number }): Promise<HeartbeatResult> {
  const { stack, progress } = ctx;
  const prefix = "hb";
  const fleet = new AgentFleet({ wsUrl: stack.wsUrl(), answer: "none" });
  const creds = await stack.makeAgents(prefix, opts.agents);
  // At most ~1,000 heartbeats/s in all: enough load, without the Node side becoming the limit.
  const periodMs = Math.max(1_000, opts.agents);
  try {
    await connectAndWaitOnline(ctx, fleet, creds, prefix, { concurrency: 100 });
    progress.update("warm-up heartbeat (first capacity report: one write per agent)");
    const warmBefore = await stack.stats.snapshot();
    fleet.heartbeatAll();
    // Until every DO has written its first capacity: with thousands of agents workerd can take
    // seconds to work through the burst, which would otherwise land in the measured window.
    await pollProgress(
      "warm-up capacity writes",
      async () => {
        const { rows } = await stack.sql.query(`select count(*)::int as n from agents where agent_id like 'hb-%' and capacity is not null`);
        return (rows[0] as { n: number }).n;
      },
      opts.agents,
      20_000,
      200,
    );
    await stack.stats.waitQuiet(300);
    const warmAfter = await stack.stats.snapshot();
    const warmupWrites = stack.stats.delta(warmBefore, warmAfter).agentsUpdated;

    progress.update("idle CPU sample");
    const idleMs = Math.min(IDLE_SAMPLE_MS, opts.durationMs);
    const idle0 = treeCpuMs(stack.workerPid);
    await sleep(idleMs);
    const idle1 = treeCpuMs(stack.workerPid);

    // Nothing touched the database since (agents silent): the warm-up's closing reading opens the window.
    const before = warmAfter;
    const cpu0 = treeCpuMs(stack.workerPid);
    const hb0 = fleet.counters.heartbeats;
    const started = Date.now();
    fleet.startHeartbeats(periodMs);
    await waitShowing(started, opts.durationMs, (ms) =>
      progress.update(`${fleet.counters.heartbeats - hb0} heartbeats in ${(ms / 1000).toFixed(1)} s (${opts.agents} agents, every ${periodMs} ms each)`),
    );
    fleet.stopHeartbeats();
    const durationMs = Date.now() - started;
    const heartbeats = fleet.counters.heartbeats - hb0;
    await sleep(DRAIN_MS);
    const cpu1 = treeCpuMs(stack.workerPid);
    const after = await stack.stats.snapshot();
    const delta = stack.stats.delta(before, after);

    const cpu = cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : null;
    const result: HeartbeatResult = {
      agents: opts.agents,
      durationMs,
      perAgentPeriodMs: periodMs,
      heartbeats,
      heartbeatsPerSecond: round((heartbeats * 1000) / durationMs, 1),
      agentsRowUpdates: delta.agentsUpdated,
      transactions: delta.xacts,
      writesPerHeartbeat: round(delta.agentsUpdated / heartbeats, 4),
      transactionsPerHeartbeat: round(delta.xacts / heartbeats, 4),
      workerdCpuMs: cpu,
      cpuMsPerHeartbeat: cpu === null ? null : round(cpu / heartbeats, 4),
      idleCpuMsPerSecond: idle0 !== undefined && idle1 !== undefined ? round(((idle1 - idle0) * 1000) / idleMs, 1) : null,
      warmupWrites,
      drops: fleet.counters.drops,
    };
    progress.line(
      `  heartbeat: ${heartbeats} heartbeats (${result.heartbeatsPerSecond}/s): ${result.writesPerHeartbeat} agents-row writes/hb, ` +
        `${result.transactionsPerHeartbeat} xacts/hb, ${result.cpuMsPerHeartbeat ?? "n/a"} ms workerd CPU/hb (warm-up wrote ${warmupWrites} rows)`,
    );
    return result;
  } finally {
    await retireFleet(ctx, fleet, prefix);
  }
}
