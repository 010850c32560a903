/**
 * The open-file limit a run needs. workerd holds a socket per agent and three SQLite files per
 * Durable Object, and the storm and heartbeat scenarios start while the last scenario's
 * keep-alive connections are still closing: at 2,000 agents it peaked at 14,056 descriptors, at
 * 300 (`--quick`) at 2,472. Past the limit workerd fails with "Too many open files" mid-run and
 * the figures mean nothing, so the bench says so before it starts. Linux only (/proc).
 */
import fs from "node:fs";
import type { BenchConfig } from "./options";

/** Descriptors per agent at workerd's peak, with room (7.0 measured at 2,000 agents, 8.2 at 300). */
const PER_AGENT = 8;
const BASE = 500;

/** About how many open files workerd needs for `config`. */
export function openFilesNeeded(config: BenchConfig): number {
  const agents = Math.max(
    config.scenarios.includes("throughput") ? config.throughput.agents : 0,
    config.scenarios.includes("storm") ? config.storm.agents : 0,
    config.scenarios.includes("heartbeat") ? config.heartbeat.agents : 0,
    config.scenarios.includes("dispatch") ? Math.max(...config.dispatch.levels) : 0,
    config.scenarios.includes("sweep") ? config.sweep.agents : 0,
  );
  return BASE + PER_AGENT * agents;
}

/** This process's soft limit on open files (workerd inherits it), or undefined off Linux. */
export function openFileLimit(limitsFile = "/proc/self/limits"): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(limitsFile, "utf8");
  } catch {
    return undefined;
  }
  const soft = /^Max open files\s+(\S+)/m.exec(text)?.[1];
  if (soft === undefined) return undefined;
  return soft === "unlimited" ? Number.POSITIVE_INFINITY : Number(soft);
}

/** A warning when the limit is below what `config` needs; undefined when it is enough or unknown. */
export function openFileWarning(config: BenchConfig, limit = openFileLimit()): string | undefined {
  const needed = openFilesNeeded(config);
  if (limit === undefined || limit >= needed) return undefined;
  return `the open-file limit is ${limit} and this run needs about ${needed.toLocaleString("en-US")} in workerd: raise it first (\`ulimit -n ${Math.ceil(needed / 1000) * 1000}\`), or expect "Too many open files" failures`;
}
