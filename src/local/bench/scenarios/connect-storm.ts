/**
 * Scenario 4, connect storm: many agents, each with one command queued while it was away,
 * connect at the same moment (a deploy or a network blip ends every socket at once). Measured
 * until Postgres shows them all online and every queued command has reached its agent.
 *
 * Two rounds over the same agents. The first is their first connect ever: every Durable Object
 * is new and creates its storage. The second is the blip: the same agents, closed and seen
 * offline, reconnect at once to objects that exist, as after a network partition. The target
 * holds for the slower of the two.
 */
import type { AgentCredentials } from "../agents";
import { AGENT_HEARTBEAT_MS, AgentFleet } from "../agents";
import { databaseCpuMs, treeCpuMs } from "../proc";
import { round } from "../stats";
import { now, pollProgress, pollUntil } from "../util";
import type { BenchContext } from "./common";
import { countOnline, retireFleet } from "./common";

export type StormRound = {
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

/** The first connect's figures at the top level (as in results from before the second round). */
export type ConnectStormResult = StormRound & {
  agents: number;
  /** The same agents reconnecting to their existing objects. */
  reconnect: StormRound;
};

const STORM_TIMEOUT_MS = 120_000;
/** Give up when no queued command has arrived for this long. */
const STALL_MS = 20_000;

export async function runConnectStorm(ctx: BenchContext, opts: { agents: number }): Promise<ConnectStormResult> {
  const prefix = "storm";
  const creds = await ctx.stack.makeAgents(prefix, opts.agents);
  const first = await stormRound(ctx, creds, prefix, "first connect");
  const reconnect = await stormRound(ctx, creds, prefix, "reconnect");
  return { agents: opts.agents, ...first, reconnect };
}

/** Queues one command per agent, connects them all at once, measures, and closes them again. */
async function stormRound(ctx: BenchContext, creds: AgentCredentials[], prefix: string, label: string): Promise<StormRound> {
  const { stack, progress } = ctx;
  const agents = creds.length;
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
  await stack.sql.query(
    `insert into agent_commands (command_id, agent_id, action, payload)
     select 'storm-cmd-' || $1 || '-' || agent_id, agent_id, 'stop_session', jsonb_build_object('sessionId', 'storm-s-' || agent_id)
     from agents where agent_id like $2`,
    [label.replace(/\W+/g, "-"), `${prefix}-%`],
  );
  try {
    const cpu0 = treeCpuMs(stack.workerPid);
    const db0 = databaseCpuMs();
    const started = now();
    let onlineAt = 0;
    let online = 0;
    const stopTicker = progress.ticker(
      () => `${label}: ${fleet.openCount}/${agents} open, ${online} online, ${seen.size} commands received, ${fleet.counters.refused} refused`,
    );
    try {
      // As real agents: each heartbeats one interval after its connect, storm or not.
      fleet.startHeartbeats(AGENT_HEARTBEAT_MS);
      // Every handshake at once: no concurrency limit.
      const opening = fleet.connect(creds, { concurrency: Number.POSITIVE_INFINITY, timeoutMs: STORM_TIMEOUT_MS });
      const onlineWatch = pollUntil(
        `all storm agents online (${label})`,
        async () => {
          online = await countOnline(ctx, prefix);
          if (online >= agents && !onlineAt) onlineAt = now();
          return onlineAt > 0;
        },
        STORM_TIMEOUT_MS,
        100,
      );
      onlineWatch.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"
      await opening;
      const openAt = now();
      await onlineWatch;
      await pollProgress(`storm commands received (${label})`, () => seen.size, agents, STALL_MS, 20);
      const cpu1 = treeCpuMs(stack.workerPid);
      const db1 = databaseCpuMs();
      const perAgent = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? null : round((b - a) / agents, 2));
      const result: StormRound = {
        refused: fleet.counters.refused,
        allOpenMs: openAt - started,
        allOnlineMs: onlineAt - started,
        allCommandsMs: Math.max(lastNewAt, onlineAt) - started,
        drops: fleet.counters.drops,
        workerdCpuMsPerAgent: perAgent(cpu0, cpu1),
        databaseCpuMsPerAgent: perAgent(db0, db1),
      };
      progress.line(
        `  connect storm, ${label}: ${agents} agents open in ${ms(result.allOpenMs)}, online in ${ms(result.allOnlineMs)}, all commands in ${ms(result.allCommandsMs)} (${result.refused} refused); CPU per agent: workerd ${result.workerdCpuMsPerAgent ?? "?"} ms, Postgres + PgBouncer ${result.databaseCpuMsPerAgent ?? "?"} ms`,
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
