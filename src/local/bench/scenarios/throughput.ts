/**
 * Scenario 2, end-to-end throughput: N sessions created through the API with a bounded number
 * of requests in flight, spread by the selection over many agents that ack and complete each
 * command at once. Measured from the first create to the moment Postgres shows every command
 * `completed` (the agents' answers applied, not merely sent).
 */
import { AGENT_HEARTBEAT_MS, AgentFleet } from "../agents";
import { databaseCpuMs, treeCpuMs } from "../proc";
import { BENCH_TEMPLATE } from "../stack";
import { perSecond, round } from "../stats";
import { now, pollProgress, runBounded } from "../util";
import type { BenchContext } from "./common";
import { connectAndWaitOnline, retireFleet } from "./common";

export type ThroughputResult = {
  commands: number;
  agents: number;
  inFlight: number;
  failedCreates: number;
  /** First create → last create answered. */
  createMs: number;
  createsPerSecond: number;
  /** First create → last frame received by an agent. */
  deliveredMs: number;
  /** First create → all commands `completed` in Postgres: the headline figure. */
  completedMs: number;
  perSecond: number;
  /**
   * CPU spent per command over the run: workerd (Worker + DOs, one process) and this Node
   * process (agents, HTTP client, the WebSocket→TCP proxy). Shows where a 2-core box saturates.
   */
  workerdCpuMsPerCommand: number | null;
  benchProcessCpuMsPerCommand: number;
  /** Postgres and PgBouncer processes together (see databaseCpuMs). */
  databaseCpuMsPerCommand: number | null;
  /** Sockets the server closed during the run (e.g. liveness under overload); the fleet reconnects them. */
  drops: number;
  /**
   * The bare push ceiling measured right before and right after this run, pushes/s, and their
   * mean, the target's baseline. This box's speed drifts by tens of percent within a minute: a
   * ceiling measured only up front, a minute or two earlier, put the same code's ratio at 13.9 %
   * in one run and 25.9 % in another.
   */
  ceilingAlongside?: { before: number; after: number; perSecond: number };
  /**
   * Measured after the second ceiling at the same size, per second: bare dispatches (a bare
   * Worker: one INSERT over SQL-over-HTTP, then the push; no answers) and bare exchanges (the
   * same, answered by ack and complete, each one UPDATE by the object; folded, the ack not
   * written): what a command's hops, and then its three (or two) writes, carry here with nothing
   * of the dispatcher.
   */
  bareAlongside?: { dispatch: BareRate; exchange: BareRate; folded: BareRate };
};

/** A bare kind's rate, and the CPU each side spent per command (see BareCeiling). */
export type BareRate = {
  perSecond: number;
  cpuMsPerCommand: { workerd: number | null; benchProcess: number; database: number | null };
};

/** Give up when no command has completed for this long. */
const STALL_MS = 20_000;

export async function runThroughput(
  ctx: BenchContext,
  opts: { commands: number; agents: number; inFlight: number },
): Promise<ThroughputResult> {
  const { stack, progress } = ctx;
  const prefix = "tput";
  let lastFrameAt = 0;
  const fleet = new AgentFleet({ wsUrl: stack.wsUrl(), answer: "complete", onCommand: (ev) => (lastFrameAt = ev.at) });
  const creds = await stack.makeAgents(prefix, opts.agents);
  const user = "bench-tput";
  const token = await stack.token(user);
  try {
    fleet.startHeartbeats(AGENT_HEARTBEAT_MS);
    await connectAndWaitOnline(ctx, fleet, creds, prefix, { concurrency: 100 });
    const before = fleet.counters.received;
    const cpu0 = treeCpuMs(stack.workerPid);
    const db0 = databaseCpuMs();
    const self0 = process.cpuUsage();
    const started = now();
    let answered = 0;
    const stopTicker = progress.ticker(
      () => `${answered}/${opts.commands} created, ${fleet.counters.received - before} delivered, ${fleet.counters.completes} completes sent`,
    );
    let createdAt = 0;
    let errors: unknown[];
    try {
      errors = await runBounded(opts.commands, opts.inFlight, async () => {
        const res = await stack.api("POST", "/api/v1/sessions", { token, body: { user, template: BENCH_TEMPLATE } });
        answered++;
        if (res.status !== 202) throw new Error(`create answered ${res.status}: ${JSON.stringify(res.body)}`);
      });
      createdAt = now();
      const created = opts.commands - errors.length;
      await pollProgress(
        "commands completed",
        async () => {
          const { rows } = await stack.sql.query(
            `select count(*)::int as n from agent_commands where agent_id like 'tput-%' and status = 'completed'`,
          );
          return (rows[0] as { n: number }).n;
        },
        created,
        STALL_MS,
      );
    } finally {
      stopTicker();
    }
    const completedMs = now() - started;
    const cpu1 = treeCpuMs(stack.workerPid);
    const db1 = databaseCpuMs();
    const self = process.cpuUsage(self0);
    const done = opts.commands - errors.length;
    if (errors.length) progress.line(`  note: ${errors.length} creates failed, e.g. ${String(errors[0])}`);
    const result: ThroughputResult = {
      commands: opts.commands,
      agents: opts.agents,
      inFlight: opts.inFlight,
      failedCreates: errors.length,
      createMs: createdAt - started,
      createsPerSecond: perSecond(opts.commands - errors.length, createdAt - started),
      deliveredMs: lastFrameAt - started,
      completedMs,
      perSecond: perSecond(done, completedMs),
      workerdCpuMsPerCommand: cpu0 !== undefined && cpu1 !== undefined ? round((cpu1 - cpu0) / done) : null,
      benchProcessCpuMsPerCommand: round((self.user + self.system) / 1000 / done),
      databaseCpuMsPerCommand: db0 !== undefined && db1 !== undefined ? round((db1 - db0) / done) : null,
      drops: fleet.counters.drops,
    };
    progress.line(
      `  throughput: ${result.perSecond} commands/s end to end (${result.createsPerSecond} creates/s; ${opts.commands} over ${opts.agents} agents, ` +
        `${opts.inFlight} in flight); CPU per command: workerd ${result.workerdCpuMsPerCommand ?? "n/a"} ms, bench process ${result.benchProcessCpuMsPerCommand} ms, ` +
        `Postgres + PgBouncer ${result.databaseCpuMsPerCommand ?? "n/a"} ms`,
    );
    return result;
  } finally {
    await retireFleet(ctx, fleet, prefix);
  }
}
