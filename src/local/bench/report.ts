/** The summary tables printed at the end, and the JSON file that keeps every figure. */
import fs from "node:fs";
import path from "node:path";
import type { MachineInfo } from "./machine";
import type { BenchConfig } from "./options";
import { describeRoundTrips } from "./scenarios/round-trips";
import type { BenchResults, TargetRow } from "./targets";
import { designBounds, informational } from "./targets";

export type BenchReport = {
  startedAt: string;
  finishedAt: string;
  durationS: number;
  loadAverageAtEnd: number[];
  argv: string[];
  config: BenchConfig;
  machine: MachineInfo | null;
  targets: TargetRow[];
  /** The dispatch and throughput targets scored by the bare dispatch (see designBounds). */
  designBounds: TargetRow[];
  roundTrips: string | null;
  informational: Array<{ label: string; value: string }>;
  results: BenchResults;
  workerLog: { file: string | null; lines: number; warnings: number; errors: number; other: number };
  notes: string[];
};

/** A plain text table; numbers right-aligned. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (/^[-\d.,]+( \S+)?$/.test(c) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [fmt(headers), widths.map((w) => "─".repeat(w)).join("  "), ...rows.map(fmt)].join("\n");
}

const num = (v: number | null | undefined, unit = "") => (v === null || v === undefined || !Number.isFinite(v) ? "–" : `${v}${unit ? ` ${unit}` : ""}`);

export function renderSummary(report: BenchReport): string {
  const { results } = report;
  const parts: string[] = [];
  const m = report.machine;
  parts.push(
    `edge-dispatch bench${report.config.quick ? " (--quick)" : ""}: ${report.durationS} s on ${m ? `${m.cpuModel}, ${m.cores} cores` : "unknown machine"}` +
      `, load average ${m ? m.loadAverageAtStart.join("/") : "?"} at start, ${report.loadAverageAtEnd.join("/")} at end`,
  );

  const b = results.baselines;
  const baselineRows: string[][] = [];
  for (const [mode, floor] of Object.entries(b.neonFloor)) {
    baselineRows.push([`neon connect+INSERT [${mode}] (n=${floor.connectInsert.n})`, num(floor.connectInsert.p50, "ms"), num(floor.connectInsert.p99, "ms"), ""]);
  }
  if (b.barePush) {
    baselineRows.push([`bare Worker→DO→ws.send, no DB (n=${b.barePush.latency.n})`, num(b.barePush.latency.p50, "ms"), num(b.barePush.latency.p99, "ms"), ""]);
    const c = b.barePush.ceiling;
    baselineRows.push([`bare push ceiling, up front (${c.pushes} pushes, ${c.agents} agents, ${c.inFlight} in flight)`, "", "", num(c.perSecond, "/s")]);
  }
  if (b.graphile) {
    baselineRows.push([`graphile-worker add_job→task start (n=${b.graphile.addToStart.n})`, num(b.graphile.addToStart.p50, "ms"), num(b.graphile.addToStart.p99, "ms"), ""]);
    baselineRows.push([`graphile-worker jobs (${b.graphile.throughput.jobs}, concurrency 10)`, "", "", num(b.graphile.throughput.perSecond, "/s")]);
  }
  if (baselineRows.length) parts.push("Baselines (same run)\n" + table(["baseline", "p50", "p99", "rate"], baselineRows));

  const dispatchRows = results.dispatch.flatMap((d) => [
    ...d.levels.map((l) => [`[${d.pooler}] session create, warm, ${l.agents} agents connected`, String(l.latency.n), num(l.latency.p50, "ms"), num(l.latency.p95, "ms"), num(l.latency.p99, "ms"), String(l.failures)]),
    ...(d.hibernation
      ? [
          [`[${d.pooler}] admin command, DO awake (reference)`, String(d.hibernation.warmReference.n), num(d.hibernation.warmReference.p50, "ms"), num(d.hibernation.warmReference.p95, "ms"), num(d.hibernation.warmReference.p99, "ms"), "0"],
          [`[${d.pooler}] admin command from hibernation (idle ${d.hibernation.idleMs / 1000} s)`, String(d.hibernation.latency.n), num(d.hibernation.latency.p50, "ms"), num(d.hibernation.latency.p95, "ms"), num(d.hibernation.latency.p99, "ms"), String(d.hibernation.failures)],
        ]
      : []),
  ]);
  if (dispatchRows.length) parts.push("Dispatch latency: create → agent receives the frame\n" + table(["case", "n", "p50", "p95", "p99", "failed"], dispatchRows));

  const targetTable = (rows: TargetRow[]) =>
    table(
      ["target", "measured", "baseline", "ratio", "limit", "result", "note"],
      rows.map((t) => [t.target, num(t.measured, t.unit), num(t.baseline, t.unit), num(t.ratio), t.limit, t.pass === null ? "n/a" : t.pass ? "PASS" : "FAIL", t.note ?? ""]),
    );
  parts.push("Targets (ratio = measured ÷ baseline)\n" + targetTable(report.targets));
  if (report.designBounds.length) {
    parts.push(
      "The same targets scored by the bare dispatch (only the hops this design requires: the request, one INSERT over SQL-over-HTTP, the DO push;\n" +
        "none of the dispatcher's work). A FAIL here is out of reach for any dispatcher of this design on this machine.\n" +
        targetTable(report.designBounds),
    );
  }

  if (report.roundTrips) parts.push(`Database round trips (Postgres transactions per operation): ${report.roundTrips}`);
  if (results.roundTrips) {
    parts.push(
      table(
        ["operation", "ops", "xacts/op", "new PG connections/op", "row writes/op"],
        results.roundTrips.operations.map((o) => [o.operation, String(o.count), num(o.xactsPerOp), num(o.connectionsPerOp), num(o.rowWritesPerOp)]),
      ),
    );
  }
  if (report.informational.length) parts.push(report.informational.map((i) => `${i.label}: ${i.value}`).join("\n"));
  const errors = Object.entries(results.errors);
  if (errors.length) parts.push("Phases that failed:\n" + errors.map(([k, v]) => `  ${k}: ${v}`).join("\n"));
  if (report.notes.length) parts.push("Notes:\n" + report.notes.map((n) => `  - ${n}`).join("\n"));
  const log = report.workerLog;
  parts.push(
    `Worker log: ${log.lines} lines: ${log.warnings} warnings and ${log.errors} errors from the Worker, ${log.other} other (runtime, wrangler)${log.file ? `; in ${log.file}` : ""}`,
  );
  return parts.join("\n\n");
}

/** `2026-01-31T12-34-56Z`: an ISO 8601 timestamp with the colons a file name cannot always hold. */
export function fileStamp(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
}

/** Adds the figures derived from the results (round-trip line, informational rows, design bounds). */
export function completeReport(base: Omit<BenchReport, "informational" | "roundTrips" | "designBounds">): BenchReport {
  return {
    ...base,
    designBounds: designBounds(base.results),
    roundTrips: base.results.roundTrips ? describeRoundTrips(base.results.roundTrips) : null,
    informational: informational(base.results),
  };
}

/** Writes `<dir>/<stamp>.json` and returns its path. */
export function writeReport(dir: string, stamp: string, report: BenchReport): string {
  fs.mkdirSync(dir, { recursive: true });
  const jsonPath = path.join(dir, `${stamp}.json`);
  fs.writeFileSync(jsonPath, JSON.stringify(report, null, 2) + "\n");
  return jsonPath;
}
