/**
 * The benchmark harness (src/local/bench, `npm run bench`) stays working: it type-checks under
 * its strict settings, and every scenario and baseline runs end to end at toy size against the
 * real stack, producing its targets and JSON. The figures themselves are not judged here.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBench } from "../../src/local/bench/main";
import { realPostgresAvailable } from "../../src/local/local-postgres";
import { SCENARIOS, parseCli, presetConfig } from "../../src/local/bench/options";
import type { BenchConfig } from "../../src/local/bench/options";
import { percentile, summarize } from "../../src/local/bench/stats";

const run = promisify(execFile);
// The bench refuses embedded PGlite (its figures would say nothing about Postgres).
const realPostgres = await realPostgresAvailable();
const ROOT = path.resolve(import.meta.dirname, "../..");

/** Every scenario and baseline, a handful of samples each; no hibernation wait (> 10 s). */
function toyConfig(): BenchConfig {
  return {
    ...presetConfig(true),
    scenarios: [...SCENARIOS],
    dispatch: { levels: [1, 3], samples: 3, hibernation: null },
    throughput: { commands: 12, agents: 3, inFlight: 4 },
    sweep: { commands: 20, agents: 2 },
    storm: { agents: 4 },
    heartbeat: { agents: 2, durationMs: 500 },
    idle: { agents: 2, periodMs: 100, warmupMs: 100, windowMs: 500 },
    roundTrips: { reps: 1 },
    baselines: { floorSamples: 3, pushLatencySamples: 3, graphileSamples: 3, graphileJobs: 10 },
  };
}

describe("the bench harness", () => {
  let typecheck: Promise<{ ok: boolean; output: string }>;
  let resultsDir: string;

  beforeAll(() => {
    resultsDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-harness-"));
    // Started now, checked last: it runs while the smoke run does.
    // Incremental (build info under .data/, git-ignored): a re-run only re-checks what changed.
    const args = ["-p", "src/local/bench", "--incremental", "--tsBuildInfoFile", ".data/tsbuildinfo/bench.tsbuildinfo"];
    typecheck = run(path.join(ROOT, "node_modules/.bin/tsc"), args, { cwd: ROOT }).then(
      () => ({ ok: true, output: "" }),
      (err: { stdout?: string; stderr?: string }) => ({ ok: false, output: `${err.stdout ?? ""}${err.stderr ?? ""}` }),
    );
  });

  afterAll(() => {
    fs.rmSync(resultsDir, { recursive: true, force: true });
  });

  it("takes nearest-rank percentiles", () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([5, 1, 9].sort((a, b) => a - b), 99)).toBe(9);
    expect(summarize([3, 1, 2])).toMatchObject({ n: 3, p50: 2, min: 1, max: 3 });
  });

  it("reads its command line into a configuration", () => {
    const { config } = parseCli(["--quick", "--agents", "50", "--commands", "100", "--scenario", "dispatch,sweep", "--pooler", "both"]);
    expect(config).toMatchObject({ quick: true, pooler: "both", scenarios: ["dispatch", "sweep"] });
    expect(config.dispatch.levels).toEqual([1, 50]);
    expect(config.throughput).toMatchObject({ commands: 100, agents: 50 });
    expect(() => parseCli(["--scenario", "nope"])).toThrow(/unknown scenario/);
    expect(parseCli(["--samples", "1000"]).config.dispatch.samples).toBe(1000);
    expect(() => parseCli(["--samples", "0"])).toThrow(/--samples must be a positive integer/);
    // The idle fleet takes minutes: only on request.
    expect(parseCli([]).config.scenarios).not.toContain("idle");
    expect(parseCli(["--scenario", "idle", "--agents", "300"]).config.idle).toMatchObject({ agents: 300, periodMs: 30_000 });
  });

  it.skipIf(!realPostgres)("runs every scenario and baseline at toy size and writes the report", async () => {
    const { report, jsonPath, summary } = await runBench(toyConfig(), { resultsDir, silent: true });
    expect(report.results.errors).toEqual({});
    expect(report.config.scenarios).toEqual([...SCENARIOS]);
    expect(report.results.dispatch[0]?.levels.map((l) => l.latency.n)).toEqual([3, 3]);
    // The floor's parts, the bare dispatch and graphile-worker are sampled once per timed create.
    expect(report.results.dispatch[0]?.levels.map((l) => l.pairedFloor?.bareDispatch.n)).toEqual([3, 3]);
    expect(report.results.dispatch[0]?.levels.map((l) => l.pairedFloor?.peer?.n)).toEqual([3, 3]);
    // Every level is a target: p50, p99 and the peer at each, against what was sampled beside it.
    const dispatchRows = report.targets.filter((t) => t.target.startsWith("dispatch"));
    expect(dispatchRows).toHaveLength(3 * 2);
    const peerRow = dispatchRows.find((t) => t.target.includes("graphile") && t.target.includes(`at ${report.results.dispatch[0]?.levels[0]?.agents} agents`));
    expect(peerRow?.baseline).toBe(report.results.dispatch[0]?.levels[0]?.pairedFloor?.peer?.p50);
    // And the CPU each used: both workerd processes are found and read (Linux, as CI is).
    for (const level of report.results.dispatch[0]?.levels ?? []) {
      expect(level.cpu?.perCreateMs).toBeGreaterThanOrEqual(0);
      expect(level.cpu?.perBareDispatchMs).toBeGreaterThanOrEqual(0);
      // The tail is placed in time: the p99 sample (of 3, the slowest) at least.
      expect(level.tail.samples.length).toBeGreaterThanOrEqual(1);
      expect(Math.max(...level.tail.samples.map((s) => s.ms))).toBe(level.latency.max);
      expect(level.tail.connectMs).toBeGreaterThan(0);
      // The database's part of each: every create's statement and bare INSERT, warm-ups included.
      expect(level.statementMs.create.n).toBeGreaterThanOrEqual(level.latency.n);
      expect(level.statementMs.bareInsert.n).toBe(level.latency.n);
      expect(level.statementMs.create.p50).toBeGreaterThan(0);
    }
    expect(report.results.throughput?.failedCreates).toBe(0);
    // The throughput's ceiling is measured right before and after it, and is the target's baseline.
    const alongside = report.results.throughput?.ceilingAlongside;
    expect(alongside?.before).toBeGreaterThan(0);
    expect(alongside?.after).toBeGreaterThan(0);
    expect(report.targets.find((t) => t.target.startsWith("end-to-end throughput"))?.baseline).toBe(alongside?.perSecond);
    // The same targets scored by the bare dispatch: at every level, and its rate against that ceiling.
    const bare = report.results.throughput?.bareAlongside;
    for (const r of [bare?.dispatch, bare?.exchange, bare?.folded]) {
      expect(r?.perSecond).toBeGreaterThan(0);
      expect(r?.cpuMsPerCommand.workerd).toBeGreaterThanOrEqual(0);
    }
    expect(report.designBounds.filter((t) => t.target.startsWith("bare dispatch p"))).toHaveLength(3 * 2);
    expect(report.designBounds.find((t) => t.target.startsWith("bare dispatch rate"))).toMatchObject({ measured: bare?.dispatch.perSecond, baseline: alongside?.perSecond });
    expect(report.designBounds.find((t) => t.target.startsWith("bare exchange rate ≥"))).toMatchObject({ measured: bare?.exchange.perSecond, baseline: alongside?.perSecond });
    expect(report.designBounds.find((t) => t.target.startsWith("bare exchange rate, the ack not written"))).toMatchObject({ measured: bare?.folded.perSecond });
    expect(report.designBounds.map((t) => t.pass === null)).not.toContain(true);
    expect(summary).toContain("scored by the bare dispatch");
    expect(report.results.sweep?.receivedBeforeSweep).toBe(0);
    expect(report.results.storm?.agents).toBe(4);
    // Both rounds delivered their commands: the reconnect's too, behind the first round's.
    expect(report.results.storm?.reconnect.allCommandsMs).toBeGreaterThan(0);
    expect(report.results.idle?.heartbeats).toBeGreaterThan(0);
    expect(report.results.roundTrips?.operations.length).toBeGreaterThan(5);
    expect(report.targets.map((t) => t.pass === null)).not.toContain(true);
    expect(JSON.parse(fs.readFileSync(jsonPath, "utf8"))).toMatchObject({ machine: { cores: os.cpus().length } });
    expect(summary).toContain("Targets");
  }, 60_000);

  it("type-checks under its strict compiler settings", async () => {
    const result = await typecheck;
    expect(result.output).toBe("");
    expect(result.ok).toBe(true);
  }, 60_000);
});
