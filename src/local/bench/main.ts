/**
 * `npm run bench`: the dispatcher's benchmark. Starts the real Worker in workerd against a
 * scratch database on the machine's Postgres (through PgBouncer and the Neon driver's proxy),
 * measures its baselines and scenarios in one run, prints a summary and writes
 * bench/results/<timestamp>.json. See options.ts for the flags.
 */
import os from "node:os";
import path from "node:path";
import { PROJECT_ROOT } from "../dev-vars";
import { measureBareCeiling, measureBarePush, startBarePush } from "./baselines/bare-push";
import type { BareKind, BareSql } from "./baselines/bare-push";
import { measureGraphile, startGraphile } from "./baselines/graphile";
import { createFloorTables, measureNeonFloor, openNeonFloor } from "./baselines/neon-floor";
import { ConsoleCapture } from "./console-capture";
import { machineInfo } from "./machine";
import type { MachineInfo } from "./machine";
import { openFileWarning } from "./open-files";
import { USAGE, parseCli } from "./options";
import type { BenchConfig, ScenarioName } from "./options";
import { Progress } from "./progress";
import { completeReport, fileStamp, renderSummary, writeReport } from "./report";
import type { BenchReport } from "./report";
import type { BenchContext } from "./scenarios/common";
import { runConnectStorm } from "./scenarios/connect-storm";
import { runDispatch } from "./scenarios/dispatch";
import type { DispatchOptions, FloorProbe } from "./scenarios/dispatch";
import { runHeartbeat } from "./scenarios/heartbeat";
import { runIdleFleet } from "./scenarios/idle-fleet";
import { runRoundTrips } from "./scenarios/round-trips";
import { runSweepDrain } from "./scenarios/sweep-drain";
import { runThroughput } from "./scenarios/throughput";
import type { BareRate, ThroughputResult } from "./scenarios/throughput";
import { settle } from "./settle";
import { startBenchStack } from "./stack";
import { round } from "./stats";
import type { BenchStack, PoolerMode } from "./stack";
import { evaluateTargets } from "./targets";
import type { BenchResults } from "./targets";
import { isMain } from "../is-main";
import { findPgBouncer } from "../pgbouncer";

export const DEFAULT_RESULTS_DIR = path.join(PROJECT_ROOT, "bench/results");

export type BenchRun = { report: BenchReport; jsonPath: string; summary: string };

/** The stack of the run in progress, so an interrupt can still drop the scratch database. */
let active: BenchStack | undefined;

const STANDING_NOTES = [
  "Load generator, agents and the WebSocket→TCP proxy share this Node process, and the machine's cores with workerd, PgBouncer and Postgres: every figure includes that contention, baselines too.",
  "Warm dispatch: the bench marks each session terminated after its frame arrived (untimed), so all agents stay equally loaded and the selection keeps picking a recently active agent whose Durable Object is awake.",
  "Heartbeats: the DO writes Postgres only when the stored heartbeat is over 55 s old or the capacity changed; the window follows one warm-up heartbeat per agent, so ~0 writes per heartbeat is the steady state (at the real 30 s cadence expect ~0.5).",
  "Round trips count committed Postgres transactions: a multi-statement transaction counts once; a new connection's start-up transaction is not counted (see the connections column).",
  "From hibernation: inferred from the idle time (workerd evicts hibernatable Durable Objects after ~10 s without events); the bench cannot observe the eviction itself, hence the awake reference measured alongside.",
  "graphile-worker connects to Postgres directly (its normal deployment), not through PgBouncer or the WebSocket proxy.",
];

export async function runBench(config: BenchConfig, opts: { resultsDir?: string; argv?: string[]; silent?: boolean } = {}): Promise<BenchRun> {
  const startedAt = new Date();
  const progress = new Progress({ silent: opts.silent ?? false });
  const capture = new ConsoleCapture();
  capture.install();
  const results: BenchResults = { baselines: { neonFloor: {} }, dispatch: [], errors: {} };
  const notes = [...STANDING_NOTES];
  if (config.quick) notes.push("--quick: fewer agents and samples than the targets assume; with n < 100 samples p99 is close to the maximum.");
  const limitWarning = openFileWarning(config);
  if (limitWarning) {
    notes.push(`Started with a warning: ${limitWarning}.`);
    progress.line(`warning: ${limitWarning}`);
  }
  if (config.pooler === "direct" && !findPgBouncer()) {
    notes.push("PgBouncer is not installed (Debian package pgbouncer): the Worker connects straight to Postgres, a fresh backend per connection, not through the stand-in for Neon's pooler.");
  }
  let machine: MachineInfo | null = null;
  const primary: PoolerMode = config.pooler === "direct" ? "direct" : "pgbouncer";
  const has = (s: ScenarioName) => config.scenarios.includes(s);

  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T | undefined> => {
    progress.phase(name);
    try {
      return await fn();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      results.errors[name] = message;
      progress.line(`  ✗ ${name} failed: ${message}`);
      return undefined;
    }
  };

  try {
    progress.phase(`setup: Postgres scratch database, ${primary === "pgbouncer" ? "PgBouncer, " : ""}proxy, Worker in workerd`);
    const stack = await startBenchStack({ pooler: primary, needPgBouncer: config.pooler !== "direct" });
    active = stack;
    const ctx: BenchContext = { stack, progress };
    machine = await machineInfo(stack.server.url);
    progress.line(`  Worker at ${stack.httpUrl()} (workerd pid ${stack.workerPid ?? "unknown"}), DB path: ${primary}`);

    if (has("dispatch")) {
      const modes: PoolerMode[] = config.pooler === "both" ? ["pgbouncer", "direct"] : [primary];
      for (const mode of modes) {
        const floor = await phase(`baseline: Neon driver connect+INSERT [${mode}]`, () =>
          measureNeonFloor({ url: stack.workerDbUrl(mode), directUrl: stack.dbUrl, proxyPort: stack.proxyPort, pipelineConnect: stack.pipelineConnect(mode), samples: config.baselines.floorSamples, label: mode }),
        );
        if (floor) {
          results.baselines.neonFloor[mode] = floor;
          progress.line(`  p50 ${floor.connectInsert.p50} ms, p99 ${floor.connectInsert.p99} ms`);
        }
      }
    }
    if (has("dispatch") || has("throughput")) {
      results.baselines.barePush = await phase("baseline: bare Worker→DO→ws.send (second workerd, no database)", () =>
        measureBarePush({
          latencySamples: config.baselines.pushLatencySamples,
          pushes: config.throughput.commands,
          agents: config.throughput.agents,
          inFlight: config.throughput.inFlight,
          onProgress: (t) => progress.update(t),
        }),
      );
      const p = results.baselines.barePush;
      if (p) progress.line(`  p50 ${p.latency.p50} ms, p99 ${p.latency.p99} ms; ceiling ${p.ceiling.perSecond} pushes/s`);
    }
    if (has("dispatch")) {
      results.baselines.graphile = await phase("peer: graphile-worker on the same Postgres", () =>
        measureGraphile({
          serverUrl: stack.server.url,
          latencySamples: config.baselines.graphileSamples,
          jobs: config.baselines.graphileJobs,
          inFlightAdds: config.throughput.inFlight,
          onProgress: (t) => progress.update(t),
        }),
      );
      const g = results.baselines.graphile;
      if (g) progress.line(`  add→start p50 ${g.addToStart.p50} ms, p99 ${g.addToStart.p99} ms; ${g.throughput.perSecond} jobs/s`);
    }

    if (has("roundtrips")) results.roundTrips = await phase("database round trips per operation", () => runRoundTrips(ctx, config.roundTrips));
    const dispatchOpts = (pooler: PoolerMode, floorProbe?: FloorProbe): DispatchOptions => ({
      pooler,
      levels: config.dispatch.levels,
      samples: config.dispatch.samples,
      ...(config.dispatch.hibernation ? { hibernation: config.dispatch.hibernation } : {}),
      ...(floorProbe ? { floorProbe } : {}),
    });
    if (has("dispatch")) {
      // graphile-worker runs beside the dispatch too: its add→start is sampled next to every
      // create, like the floor, so the comparison sees the same moment of the machine.
      const d = await phase(`dispatch latency [${primary}]`, async () => {
        const peer = await startGraphile(stack.server.url);
        try {
          for (let i = 0; i < 5; i++) await peer.addToStart(); // warm, as the up-front one is
          return await withFloorProbe(stack, primary, (probe) => runDispatch(ctx, dispatchOpts(primary, { ...probe, peer: () => peer.addToStart() })));
        } finally {
          await peer.stop();
        }
      });
      if (d) results.dispatch.push(d);
    }
    // Each of these starts once the Worker has let go of what the scenario before it left open.
    if (has("throughput")) results.throughput = await phase("end-to-end throughput", () => throughputWithCeiling(ctx, config.throughput, primary));
    if (has("sweep")) results.sweep = await phase("sweep drain", () => settle(ctx).then(() => runSweepDrain(ctx, config.sweep)));
    if (has("storm")) results.storm = await phase("connect storm", () => settle(ctx).then(() => runConnectStorm(ctx, config.storm)));
    if (has("heartbeat")) results.heartbeat = await phase("heartbeat load", () => settle(ctx).then(() => runHeartbeat(ctx, config.heartbeat)));
    if (has("idle")) results.idle = await phase("idle fleet at the real heartbeat cadence", () => settle(ctx).then(() => runIdleFleet(ctx, config.idle)));
    if (has("dispatch") && config.pooler === "both") {
      const d = await phase("dispatch latency [direct]", async () => {
        await stack.useWorker("direct");
        return withFloorProbe(stack, "direct", (probe) => runDispatch(ctx, dispatchOpts("direct", probe)));
      });
      if (d) results.dispatch.push(d);
    }
  } catch (err) {
    results.errors["setup"] = err instanceof Error ? err.message : String(err);
    progress.line(`  ✗ setup failed: ${results.errors["setup"]}`);
  } finally {
    progress.phase("teardown: stopping the Worker, PgBouncer and proxy; dropping the scratch database");
    await active?.stop().catch(() => {});
    active = undefined;
    progress.done();
  }

  const finishedAt = new Date();
  const dir = opts.resultsDir ?? DEFAULT_RESULTS_DIR;
  const stamp = fileStamp(startedAt);
  capture.uninstall();
  const logFile = path.join(dir, `${stamp}.worker.log`);
  const report = completeReport({
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationS: Math.round((finishedAt.getTime() - startedAt.getTime()) / 100) / 10,
    loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100),
    argv: opts.argv ?? [],
    config,
    machine,
    targets: evaluateTargets(results, config.scenarios),
    results,
    workerLog: {
      file: path.relative(PROJECT_ROOT, logFile),
      lines: capture.log.lines,
      warnings: capture.log.warnings,
      errors: capture.log.errors,
      other: capture.log.other,
    },
    notes,
  });
  const jsonPath = writeReport(dir, stamp, report);
  capture.writeTo(logFile);
  return { report, jsonPath, summary: renderSummary(report) };
}

/**
 * The throughput run, between two bare push ceilings measured on the same settled box, and then
 * the rates of the bare dispatch and the bare exchange at the same size: what a command's hops
 * and writes alone carry here.
 */
async function throughputWithCeiling(ctx: BenchContext, opts: BenchConfig["throughput"], mode: PoolerMode): Promise<ThroughputResult> {
  const rate = async (what: string, kind: BareKind) => {
    await settle(ctx);
    const sql = kind === "push" ? {} : { sql: bareSql(ctx.stack, mode) };
    const c = await measureBareCeiling({ ...opts, pushes: opts.commands, kind, ...sql, onProgress: (t) => ctx.progress.update(`${what}: ${t}`) });
    const cpu = c.cpuMsPerPush;
    ctx.progress.line(`  ${what}: ${c.perSecond}/s; CPU each: workerd ${cpu.workerd ?? "n/a"} ms, bench process ${cpu.benchProcess} ms, Postgres + PgBouncer ${cpu.database ?? "n/a"} ms`);
    return c;
  };
  const before = await rate("bare push ceiling before", "push");
  const result = await runThroughput(ctx, opts);
  const after = await rate("bare push ceiling after", "push");
  await createFloorTables(ctx.stack.dbUrl);
  const bareRate = async (what: string, kind: BareKind): Promise<BareRate> => {
    const c = await rate(what, kind);
    return { perSecond: c.perSecond, cpuMsPerCommand: c.cpuMsPerPush };
  };
  const dispatch = await bareRate("bare dispatches (INSERT, then push)", "dispatch");
  const exchange = await bareRate("bare exchanges (INSERT, push, ack and complete each an UPDATE)", "exchange");
  const folded = await bareRate("bare exchanges, the ack not written (INSERT, push, complete an UPDATE)", "exchange-folded");
  return {
    ...result,
    ceilingAlongside: { before: before.perSecond, after: after.perSecond, perSecond: round((before.perSecond + after.perSecond) / 2) },
    bareAlongside: { dispatch, exchange, folded },
  };
}

/** The SQL endpoint and database URL a bare dispatch uses: the Worker's own, for `mode`. */
function bareSql(stack: BenchStack, mode: PoolerMode): BareSql {
  const workerDb = new URL(stack.workerDbUrl(mode));
  return {
    endpoint: `http://127.0.0.1:${stack.proxyPort}/sql?address=${workerDb.hostname}:${workerDb.port || 5432}`,
    databaseUrl: workerDb.toString(),
  };
}

async function cli(): Promise<number> {
  let parsed: ReturnType<typeof parseCli>;
  try {
    parsed = parseCli(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  for (const w of parsed.warnings) process.stdout.write(`warning: ${w}\n`);
  // Interrupted (Ctrl-C, or a timeout's SIGTERM): still stop PgBouncer and drop the scratch
  // database. Further signals (a wrapper often relays the same one) must not cut that short.
  let interrupted = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      process.stdout.write(`\n${signal}: cleaning up\n`);
      // Miniflare's own exit hook answers the same signal (after stopping workerd) with an
      // immediate process.exit(), which would cut this asynchronous clean-up short: hold exits
      // until it is done.
      const exit = process.exit.bind(process);
      process.exit = (() => undefined) as unknown as typeof process.exit;
      const code = signal === "SIGINT" ? 130 : 143;
      setTimeout(() => exit(code), 30_000).unref(); // never hang on a stuck clean-up
      void (active?.stop() ?? Promise.resolve()).finally(() => exit(code));
    });
  }
  const run = await runBench(parsed.config, { argv: process.argv.slice(2) });
  process.stdout.write(`\n${run.summary}\n\nJSON: ${path.relative(process.cwd(), run.jsonPath)}\n`);
  return Object.keys(run.report.results.errors).length ? 1 : 0;
}

if (isMain(import.meta.url)) {
  cli().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n${USAGE}\n`);
      process.exit(1);
    },
  );
}

/** Runs `fn` with the floor's two parts, and the bare dispatch, ready to sample alongside it (see FloorProbe). */
async function withFloorProbe<T>(stack: BenchStack, mode: PoolerMode, fn: (probe: FloorProbe) => Promise<T>): Promise<T> {
  const neon = await openNeonFloor({ url: stack.workerDbUrl(mode), directUrl: stack.dbUrl, proxyPort: stack.proxyPort, pipelineConnect: stack.pipelineConnect(mode) });
  const bare = await startBarePush(bareSql(stack, mode));
  try {
    await bare.connect(0, 1);
    for (let i = 0; i < 5; i++) await Promise.all([neon.once(), bare.latencyOnce(0), bare.dispatchOnce(0)]); // warm, as the up-front baselines are
    return await fn({
      connectInsert: () => neon.once(),
      barePush: () => bare.latencyOnce(0),
      bareDispatch: () => bare.dispatchOnce(0),
      bareCpuMs: () => bare.cpuMs(),
    });
  } finally {
    await bare.stop();
  }
}
