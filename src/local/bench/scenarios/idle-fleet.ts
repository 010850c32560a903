/**
 * Idle fleet (opt-in: `--scenario idle`, about two minutes): agents connected and heartbeating at
 * the real agents' 30 s cadence, and nothing else. Between two heartbeats workerd hibernates each
 * Durable Object (after ~10 s idle), so every heartbeat wakes one: this is what a fleet at rest
 * costs, which the accelerated heartbeat scenario (objects never asleep) does not show.
 *
 * The window opens after a warm-up longer than the 45 s liveness timeout, so it holds the steady
 * state: every object's connect-time alarm has come due, and its first heartbeats have been written.
 */
import { AgentFleet } from "../agents";
import { treeCpuMs } from "../proc";
import { round } from "../stats";
import { waitShowing } from "../util";
import type { BenchContext } from "./common";
import { connectAndWaitOnline, retireFleet } from "./common";

export type IdleFleetOptions = { agents: number; periodMs: number; warmupMs: number; windowMs: number };

export type IdleFleetResult = IdleFleetOptions & {
  heartbeats: number;
  /** workerd CPU over the window, per second and per heartbeat (liveness alarms included). */
  workerdCpuMsPerSecond: number | null;
  cpuMsPerHeartbeat: number | null;
  transactionsPerHeartbeat: number;
  /** Sockets the server closed during the run; non-zero means a live agent was taken for dead. */
  drops: number;
};

export async function runIdleFleet(ctx: BenchContext, opts: IdleFleetOptions): Promise<IdleFleetResult> {
  const { stack, progress } = ctx;
  const prefix = "idle";
  const fleet = new AgentFleet({ wsUrl: stack.wsUrl(), answer: "none" });
  const creds = await stack.makeAgents(prefix, opts.agents);
  try {
    await connectAndWaitOnline(ctx, fleet, creds, prefix, { concurrency: 100 });
    fleet.startHeartbeats(opts.periodMs);
    await waitShowing(Date.now(), opts.warmupMs, (ms) =>
      progress.update(`warm-up: ${seconds(ms)} s of ${opts.warmupMs / 1000} (${opts.agents} agents, a heartbeat every ${opts.periodMs / 1000} s each)`),
    );
    const before = await stack.stats.snapshot();
    const cpu0 = treeCpuMs(stack.workerPid);
    const hb0 = fleet.counters.heartbeats;
    await waitShowing(Date.now(), opts.windowMs, (ms) =>
      progress.update(`measuring: ${seconds(ms)} s of ${opts.windowMs / 1000}, ${fleet.counters.heartbeats - hb0} heartbeats`),
    );
    const cpu1 = treeCpuMs(stack.workerPid);
    const heartbeats = fleet.counters.heartbeats - hb0;
    fleet.stopHeartbeats();
    const delta = stack.stats.delta(before, await stack.stats.snapshot());
    const cpu = cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : null;
    const result: IdleFleetResult = {
      ...opts,
      heartbeats,
      workerdCpuMsPerSecond: cpu === null ? null : round((cpu * 1000) / opts.windowMs, 1),
      cpuMsPerHeartbeat: cpu === null || heartbeats === 0 ? null : round(cpu / heartbeats, 3),
      transactionsPerHeartbeat: heartbeats === 0 ? 0 : round(delta.xacts / heartbeats, 4),
      drops: fleet.counters.drops,
    };
    progress.line(
      `  idle fleet: ${opts.agents} agents, ${heartbeats} heartbeats in ${opts.windowMs / 1000} s: workerd ${result.workerdCpuMsPerSecond ?? "n/a"} ms CPU/s, ` +
        `${result.cpuMsPerHeartbeat ?? "n/a"} ms per heartbeat, ${result.transactionsPerHeartbeat} xacts/hb, ${result.drops} sockets dropped`,
    );
    return result;
  } finally {
    await retireFleet(ctx, fleet, prefix);
  }
}

const seconds = (ms: number) => (ms / 1000).toFixed(0);
