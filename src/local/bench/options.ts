/**
 * Bench configuration: the full and `--quick` presets and the command line that adjusts them.
 *
 * `npm run bench [-- --quick] [--agents N] [--commands N] [--samples N] [--scenario a,b] [--pooler pgbouncer|direct|both]`
 */
import { parseArgs } from "node:util";
import { findPgBouncer } from "../pgbouncer";
import { AGENT_HEARTBEAT_MS } from "./agents";
import type { IdleFleetOptions } from "./scenarios/idle-fleet";
import type { PoolerMode } from "./stack";

export const SCENARIOS = ["roundtrips", "dispatch", "throughput", "sweep", "storm", "heartbeat", "idle"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
/** What a run without `--scenario` runs: all but `idle`, which alone takes about two minutes. */
export const DEFAULT_SCENARIOS: ScenarioName[] = SCENARIOS.filter((s) => s !== "idle");

/** workerd here fails at ~3,400 simultaneous agent sockets: stay well below. */
export const MAX_AGENTS = 2_000;

export type BenchConfig = {
  quick: boolean;
  scenarios: ScenarioName[];
  pooler: PoolerMode | "both";
  dispatch: { levels: number[]; samples: number; hibernation: { samples: number; idleMs: number } | null };
  throughput: { commands: number; agents: number; inFlight: number };
  sweep: { commands: number; agents: number };
  storm: { agents: number };
  heartbeat: { agents: number; durationMs: number };
  idle: IdleFleetOptions;
  roundTrips: { reps: number };
  baselines: { floorSamples: number; pushLatencySamples: number; graphileSamples: number; graphileJobs: number };
};

/** The idle fleet heartbeats at the real agents' cadence, and warms up past the 45 s liveness timeout. */
const IDLE_PERIOD_MS = AGENT_HEARTBEAT_MS;
const IDLE_WARMUP_MS = 50_000;

/** Through PgBouncer (Neon's pooler stand-in) when it is installed, else straight to Postgres. */
function defaultPooler(): PoolerMode {
  return findPgBouncer() ? "pgbouncer" : "direct";
}

export function presetConfig(quick: boolean): BenchConfig {
  return quick
    ? {
        quick,
        scenarios: [...DEFAULT_SCENARIOS],
        pooler: defaultPooler(),
        // Sized to finish in under two minutes on a busy 2-core box. Hibernation needs > 10 s
        // idle whatever the preset: the longest single wait of a quick run.
        dispatch: { levels: [1, 100], samples: 30, hibernation: { samples: 20, idleMs: 10_500 } },
        throughput: { commands: 500, agents: 200, inFlight: 32 },
        sweep: { commands: 2_000, agents: 100 },
        storm: { agents: 300 },
        heartbeat: { agents: 200, durationMs: 8_000 },
        idle: { agents: 200, periodMs: IDLE_PERIOD_MS, warmupMs: IDLE_WARMUP_MS, windowMs: 30_000 },
        roundTrips: { reps: 5 },
        baselines: { floorSamples: 30, pushLatencySamples: 30, graphileSamples: 30, graphileJobs: 500 },
      }
    : {
        quick,
        scenarios: [...DEFAULT_SCENARIOS],
        pooler: defaultPooler(),
        dispatch: { levels: [1, 100, 1_000], samples: 200, hibernation: { samples: 100, idleMs: 11_500 } },
        throughput: { commands: 5_000, agents: 1_000, inFlight: 32 },
        sweep: { commands: 10_000, agents: 100 },
        storm: { agents: 2_000 },
        heartbeat: { agents: 2_000, durationMs: 20_000 },
        idle: { agents: 1_000, periodMs: IDLE_PERIOD_MS, warmupMs: IDLE_WARMUP_MS, windowMs: 60_000 },
        roundTrips: { reps: 20 },
        baselines: { floorSamples: 200, pushLatencySamples: 200, graphileSamples: 200, graphileJobs: 5_000 },
      };
}

/** Parses argv (without node and script); throws with a usage message on bad input. */
export function parseCli(argv: string[]): { config: BenchConfig; warnings: string[] } {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      agents: { type: "string" },
      commands: { type: "string" },
      samples: { type: "string" },
      scenario: { type: "string" },
      pooler: { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) throw new Error(USAGE);
  const config = presetConfig(values.quick ?? false);
  const warnings: string[] = [];
  if (values.agents !== undefined) {
    let n = positiveInt("--agents", values.agents);
    if (n > MAX_AGENTS) {
      warnings.push(`--agents ${n} capped at ${MAX_AGENTS}: workerd fails around 3,400 sockets on this machine`);
      n = MAX_AGENTS;
    }
    config.dispatch.levels = [...new Set([1, Math.min(100, n), n])];
    config.throughput.agents = n;
    config.storm.agents = n;
    config.heartbeat.agents = n;
    config.idle.agents = n;
    config.sweep.agents = Math.min(config.sweep.agents, n);
  }
  if (values.commands !== undefined) {
    const n = positiveInt("--commands", values.commands);
    config.throughput.commands = n;
    config.sweep.commands = 2 * n;
    config.baselines.graphileJobs = n;
  }
  if (values.samples !== undefined) {
    // A p99 of 200 samples is the third-slowest: more samples, a steadier tail, a longer run.
    config.dispatch.samples = positiveInt("--samples", values.samples);
  }
  if (values.scenario !== undefined) {
    const names = values.scenario.split(",").map((s) => s.trim()).filter(Boolean);
    const unknown = names.filter((n) => !(SCENARIOS as readonly string[]).includes(n));
    if (unknown.length || names.length === 0) throw new Error(`unknown scenario ${unknown.join(", ")}; choose from ${SCENARIOS.join(", ")}\n${USAGE}`);
    config.scenarios = SCENARIOS.filter((s) => names.includes(s));
  }
  if (values.pooler !== undefined) {
    if (!["pgbouncer", "direct", "both"].includes(values.pooler)) throw new Error(`--pooler must be pgbouncer, direct or both\n${USAGE}`);
    config.pooler = values.pooler as BenchConfig["pooler"];
  }
  return { config, warnings };
}

function positiveInt(flag: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got ${raw}\n${USAGE}`);
  return n;
}

export const USAGE = `usage: npm run bench [-- --quick] [--agents N] [--commands N] [--samples N] [--scenario ${SCENARIOS.join(",")}] [--pooler pgbouncer|direct|both]`;
