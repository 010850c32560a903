/**
 * workerd's process tree and its CPU time, read from /proc (Linux). Miniflare does not expose
 * the runtime's pid, so the bench finds it among this process's children.
 */
import fs from "node:fs";

/** Clock ticks per second for /proc/<pid>/stat times; 100 on every Linux the bench targets. */
const CLOCK_TICKS = 100;

type ProcStat = { pid: number; comm: string; ppid: number; utime: number; stime: number };

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined; // exited meanwhile
  }
  // comm is parenthesised and may contain spaces: split after the last ')'.
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  const fields = text.slice(close + 2).split(" ");
  // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  return { pid, comm, ppid: Number(fields[1]), utime: Number(fields[11]), stime: Number(fields[12]) };
}

function allStats(): ProcStat[] {
  if (!fs.existsSync("/proc")) return [];
  return fs
    .readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => readStat(Number(name)) ?? []);
}

/** Pids of workerd processes descended from this Node process. */
export function workerdPids(): number[] {
  const stats = allStats();
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      if (child.comm.startsWith("workerd")) found.push(child.pid);
      walk(child.pid);
    }
  };
  walk(process.pid);
  return found;
}

/**
 * Finds the workerd a Miniflare starts: call before starting it, and the returned function, once
 * it is ready, names the workerd process that was not there before (undefined if none is found).
 */
export function watchForNewWorkerd(): () => number | undefined {
  const before = new Set(workerdPids());
  return () => workerdPids().find((p) => !before.has(p));
}

/**
 * utime+stime of one process (all its threads), in milliseconds; undefined when it is gone or
 * off Linux. One file read, cheap enough to take around every sampled request.
 */
export function processCpuMs(pid: number | undefined): number | undefined {
  const s = pid === undefined ? undefined : readStat(pid);
  return s ? ((s.utime + s.stime) * 1000) / CLOCK_TICKS : undefined;
}

/** utime+stime of `rootPid` and all its descendants, in milliseconds (undefined off Linux). */
export function treeCpuMs(rootPid: number | undefined): number | undefined {
  if (rootPid === undefined) return undefined;
  const stats = allStats();
  const byParent = new Map<number, ProcStat[]>();
  for (const s of stats) byParent.set(s.ppid, [...(byParent.get(s.ppid) ?? []), s]);
  const root = stats.find((s) => s.pid === rootPid);
  if (!root) return undefined;
  let ticks = 0;
  const walk = (s: ProcStat) => {
    ticks += s.utime + s.stime;
    for (const child of byParent.get(s.pid) ?? []) walk(child);
  };
  walk(root);
  return (ticks * 1000) / CLOCK_TICKS;
}

/**
 * utime+stime of every `postgres` and `pgbouncer` process on the machine, in milliseconds
 * (undefined off Linux). Backends that exit between two readings take their time with them; the
 * Worker reaches Postgres through PgBouncer's long-lived server connections, so few do.
 */
export function databaseCpuMs(): number | undefined {
  if (!fs.existsSync("/proc")) return undefined;
  const ticks = allStats()
    .filter((s) => s.comm === "postgres" || s.comm === "pgbouncer")
    .reduce((sum, s) => sum + s.utime + s.stime, 0);
  return (ticks * 1000) / CLOCK_TICKS;
}

/** How many sockets a process holds open; undefined when it is gone or off Linux. */
export function openSockets(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  let sockets = 0;
  for (const fd of fds) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith("socket:")) sockets++;
    } catch {
      // closed meanwhile
    }
  }
  return sockets;
}
