/**
 * Scenario 4, connect storm: many agents, each with one command queued while it was away,
 * connect at the same moment (a deploy or a network blip ends every socket at once). Measured
 * until Postgres shows them all online and every queued command has reached its agent.
 */
import { AGENT_HEARTBEAT_MS, AgentFleet } from "../agents";
import { databaseCpuMs, treeCpuMs } from "../proc";
import { round } from "../stats";
import { now, pollProgress, pollUntil } from "../util";
import type { BenchContext } from "./common";
import { countOnline, retireFleet } from "./common";

export type ConnectStormResult = {
  agents: number;
  /** Handshakes refused (and retried with backoff, as real agents do). */
  refused: number;
  allOpenMs: number;
  allOnlineMs: number;
  allCommandsMs: number;
  /** Sockets the server closed after opening (the fleet reconnects them). */
  drops: number;
  /** CPU per agent over the storm (until every command arrived): workerd, and Postgres with PgBouncer. */
  workerdCpuMsPerAgent: number | null;
  databaseCpuMsPerAgent: number | null;
};

const STORM_TIMEOUT_MS = 120_000;
/** Give up when no queued command has arrived for this long. */
const STALL_MS = 20_000;

export async function runConnectStorm(ctx: BenchContext, opts: { agents: number }): Promise<ConnectStormResult> {
  const { stack, progress } = ctx;
  const prefix = "storm";
  const seen = new Set<string>();
  let lastNewAt = 0;
  const fleet = new AgentFleet({
    wsUrl: stack.wsUrl(),
    answer: "ack",
    onCommand: (ev) => {
      if (seen.has(ev.commandId)) return;
      seen.add(ev.commandId);
      lastNewAt = ev.at;
    },
  });
  const creds = await stack.makeAgents(prefix, opts.agents);
  await stack.sql.query(
    `insert into agent_commands (command_id, agent_id, action, payload)
     select 'storm-cmd-' || agent_id, agent_id, 'stop_session', jsonb_build_object('sessionId', 'storm-s-' || agent_id)
     from agents where agent_id like 'storm-%'`,
  );
  try {
    const cpu0 = treeCpuMs(stack.workerPid);
    const db0 = databaseCpuMs();
    const started = now();
    let onlineAt = 0;
    let online = 0;
    const stopTicker = progress.ticker(
      () => `${fleet.openCount}/${opts.agents} open, ${online} online, ${seen.size} commands received, ${fleet.counters.refused} refused`,
    );
    try {
      // As real agents: each heartbeats one interval after its connect, storm or not.
      fleet.startHeartbeats(AGENT_HEARTBEAT_MS);
      // Every handshake at once: no concurrency limit.
      const opening = fleet.connect(creds, { concurrency: Number.POSITIVE_INFINITY, timeoutMs: STORM_TIMEOUT_MS });
      const onlineWatch = pollUntil(
        "all storm agents online",
        async () => {
          online = await countOnline(ctx, prefix);
          if (online >= opts.agents && !onlineAt) onlineAt = now();
          return onlineAt > 0;
        },
        STORM_TIMEOUT_MS,
        100,
      );
      onlineWatch.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"
      await opening;
      const openAt = now();
      await onlineWatch;
      await pollProgress("storm commands received", () => seen.size, opts.agents, STALL_MS, 20);
      const cpu1 = treeCpuMs(stack.workerPid);
      const db1 = databaseCpuMs();
      const perAgent = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? null : round((b - a) / opts.agents, 2));
      const result: ConnectStormResult = {
        agents: opts.agents,
        refused: fleet.counters.refused,
        allOpenMs: openAt - started,
        allOnlineMs: onlineAt - started,
        allCommandsMs: Math.max(lastNewAt, onlineAt) - started,
        drops: fleet.counters.drops,
        workerdCpuMsPerAgent: perAgent(cpu0, cpu1),
        databaseCpuMsPerAgent: perAgent(db0, db1),
      };
      progress.line(
        `  connect storm: ${opts.agents} agents open in ${ms(result.allOpenMs)}, online in ${ms(result.allOnlineMs)}, all commands in ${ms(result.allCommandsMs)} (${result.refused} refused); CPU per agent: workerd ${result.workerdCpuMsPerAgent ?? "?"} ms, Postgres + PgBouncer ${result.databaseCpuMsPerAgent ?? "?"} ms`,
      );
      return result;
    } finally {
      stopTicker();
    }
  } finally {
    await retireFleet(ctx, fleet, prefix);
  }
}

const ms = (value: number) => `${(value / 1000).toFixed(2)} s`;
