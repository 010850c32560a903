/**
 * Scenario 1, dispatch latency: `POST /api/v1/sessions` → the selected agent reads the command
 * frame, sequential and warm, with 1, 100, 1,000 agents connected. Then the same from
 * hibernation: every agent idle for longer than workerd's ~10 s hibernation delay, one admin
 * command each to many different agents.
 *
 * Warm, here, means the target Durable Object is awake. The selection picks the least-loaded
 * agent, ties to the newest heartbeat; the bench marks each session terminated once its frame
 * has arrived (outside the timed window), so every agent stays at load 0 and the selection keeps
 * choosing the same, recently active agent: the selection walks its index to the first agent at
 * load 0 (a LIMIT 1), so the level's N shows in what the machine carries (N sockets, N
 * heartbeating objects), not in the selection's own work.
 */
import { AGENT_HEARTBEAT_MS, AgentFleet } from "../agents";
import { processCpuMs } from "../proc";
import type { PoolerMode } from "../stack";
import { BENCH_TEMPLATE } from "../stack";
import type { LatencySummary } from "../stats";
import { percentile, round, summarize } from "../stats";
import { Rendezvous, now, sleep, waitShowing } from "../util";
import type { BenchContext } from "./common";
import { connectAndWaitOnline, retireFleet } from "./common";

export type DispatchLevel = {
  agents: number;
  latency: LatencySummary;
  failures: number;
  /** The floor's two parts, the bare dispatch and the peer, each sampled beside every timed create (see FloorProbe). */
  pairedFloor?: { connectInsert: LatencySummary; barePush: LatencySummary; bareDispatch: LatencySummary; peer?: LatencySummary };
  /**
   * workerd CPU time per timed create and per bare dispatch, in ms: the dispatch path is
   * CPU-bound in workerd, so this ratio explains the latency ratio with far less noise.
   * Only what lands inside the create's timed window counts (heartbeats and batched `sent`
   * records that fall in it included); the create's work after its frame arrived (the object's
   * record timer, the Worker's waitUntil) mostly does not, so the figure understates the create.
   */
  cpu?: { perCreateMs: number; perBareDispatchMs?: number };
  /**
   * When the tail happened: how long this level's agents took to connect, and each sample at or
   * above the p99 with its time since sampling began. Locally the tail comes in waves that follow
   * the connect: workerd evicts the objects ~10 s after it, and their first heartbeats wake them
   * all 30 s after it. Whether a wave falls inside the samples moves the p99 severalfold (README,
   * Performance).
   */
  tail: { connectMs: number; samples: { atMs: number; ms: number }[] };
  /**
   * The database's part: the create's statement and the bare dispatch's INSERT, each timed at the
   * local SQL-over-HTTP endpoint from taking a pooled connection to the answer (see
   * statement-times.ts). Warm-up creates included.
   */
  statementMs: { create: LatencySummary; bareInsert: LatencySummary };
};

/**
 * The floor measured alongside the creates: one connect+INSERT and one bare push after each
 * timed create, so both sides of the ratio see the same moment of a machine whose speed drifts
 * by tens of percent over tens of seconds. Also the bare dispatch, a reference, not the target's
 * floor: a bare Worker making the same hops as a dispatch (an INSERT over SQL-over-HTTP, then
 * the push), where the floor's connect+INSERT runs from the bench process that hosts the proxy.
 */
export type FloorProbe = {
  connectInsert(): Promise<number>;
  barePush(): Promise<number>;
  bareDispatch(): Promise<number>;
  /** One graphile-worker add_job → start on the same Postgres, the peer the target compares with. */
  peer?(): Promise<number>;
  /** CPU time the bare Worker's workerd has used so far, in ms (undefined when unknown). */
  bareCpuMs(): number | undefined;
};

export type DispatchResult = {
  pooler: PoolerMode;
  levels: DispatchLevel[];
  hibernation?: {
    agents: number;
    idleMs: number;
    latency: LatencySummary;
    failures: number;
    /** The same admin command to one agent, back to back (its DO awake): the hibernation penalty's reference. */
    warmReference: LatencySummary;
  };
};

export type DispatchOptions = {
  pooler: PoolerMode;
  levels: number[];
  samples: number;
  hibernation?: { samples: number; idleMs: number };
  floorProbe?: FloorProbe;
};

const WARMUP = 5;
const FRAME_TIMEOUT_MS = 10_000;
/** Sampling from hibernation stops this long after the last heartbeat, before liveness closes sockets. */
const HIBERNATION_BUDGET_MS = 30_000;

export async function runDispatch(ctx: BenchContext, opts: DispatchOptions): Promise<DispatchResult> {
  const { stack, progress } = ctx;
  const prefix = `disp-${opts.pooler}`;
  const bySession = new Rendezvous<string, number>();
  const byCommand = new Rendezvous<string, number>();
  const fleet = new AgentFleet({
    wsUrl: stack.wsUrl(),
    answer: "none",
    onCommand: (ev) => {
      if (ev.action === "start_session" && ev.sessionId) bySession.arrive(ev.sessionId, ev.at);
      else byCommand.arrive(ev.commandId, ev.at);
    },
  });
  const levels = [...new Set(opts.levels)].sort((a, b) => a - b);
  const creds = await stack.makeAgents(prefix, levels[levels.length - 1] ?? 1);
  const user = "bench-user";
  const userToken = await stack.token(user);
  const adminToken = await stack.token("bench-admin", true);
  // Direct to Postgres, every connect costs two backends: fewer handshakes at once.
  const concurrency = opts.pooler === "direct" ? 20 : 100;
  const targeted = new Set<string>();
  const result: DispatchResult = { pooler: opts.pooler, levels: [] };

  const createOnce = async (): Promise<{ ms: number; sessionId: string }> => {
    const started = now();
    const res = await stack.api("POST", "/api/v1/sessions", { token: userToken, body: { user, template: BENCH_TEMPLATE } });
    if (res.status !== 202) throw new Error(`create answered ${res.status}: ${JSON.stringify(res.body)}`);
    const sessionId = String(res.body.name);
    const at = await bySession.wait(sessionId, FRAME_TIMEOUT_MS);
    targeted.add(String(res.body.agentId));
    return { ms: at - started, sessionId };
  };
  // Bookkeeping outside the timed window: keep every agent at load 0 (see the header). The
  // bench's own statement: if it fails, the run is broken, not the dispatch.
  const release = (sessionId: string) => stack.sql.query(`update sessions set state = 'terminated' where id = $1`, [sessionId]);

  try {
    fleet.startHeartbeats(AGENT_HEARTBEAT_MS);
    for (const level of levels) {
      progress.update(`connecting agents for level ${level}`);
      const connectStart = now();
      await connectAndWaitOnline(ctx, fleet, creds.slice(fleet.size, level), prefix, { concurrency });
      stack.statementTimes.take(); // the connect's statements are not this level's
      const samplingStart = now();
      const samples: number[] = [];
      const sampledAt: number[] = [];
      const floor = { connectInsert: [] as number[], barePush: [] as number[], bareDispatch: [] as number[], peer: [] as number[] };
      const cpu = { create: new CpuTally(), bare: new CpuTally() };
      let failures = 0;
      let inARow = 0;
      const probeOnce = async (probe: FloorProbe) => {
        floor.connectInsert.push(await probe.connectInsert());
        floor.barePush.push(await probe.barePush());
        const bareBefore = probe.bareCpuMs();
        floor.bareDispatch.push(await probe.bareDispatch());
        cpu.bare.add(bareBefore, probe.bareCpuMs());
        if (probe.peer) floor.peer.push(await probe.peer());
      };
      for (let i = -WARMUP; i < opts.samples; i++) {
        // The probes go before the create on odd samples and after it on even ones: right after a
        // create they share the machine with its trailing work, right before it they do not. A
        // probe that fails is the baseline's problem: its sample is lost, the create's is not.
        const probe = i >= 0 ? opts.floorProbe : undefined;
        if (probe && i % 2 === 1) await probeOnce(probe).catch(() => {});
        let created: string | undefined;
        try {
          const cpuBefore = processCpuMs(stack.workerPid);
          const { ms, sessionId } = await createOnce();
          created = sessionId;
          if (i >= 0) {
            samples.push(ms);
            sampledAt.push(now() - samplingStart);
            cpu.create.add(cpuBefore, processCpuMs(stack.workerPid));
          }
          inARow = 0;
        } catch (err) {
          failures++;
          // A lost frame counts as the longest wait, not as no sample: dropped, it would flatter
          // the tail. A few are a finding; a run of them means the system is broken.
          if (i >= 0) {
            samples.push(FRAME_TIMEOUT_MS);
            sampledAt.push(now() - samplingStart);
          }
          if (++inARow >= 3 || failures > Math.max(5, opts.samples / 10)) throw err;
        }
        if (created) await release(created);
        if (probe && i % 2 === 0) await probeOnce(probe).catch(() => {});
        progress.update(`${level} agents: ${Math.max(0, i + 1)}/${opts.samples} creates`);
      }
      const statementMs = stack.statementTimes.take();
      const latency = summarize(samples);
      const p99 = samples.length ? percentile([...samples].sort((a, b) => a - b), 99) : Number.POSITIVE_INFINITY;
      const tail = {
        connectMs: Math.round(samplingStart - connectStart),
        samples: samples.flatMap((ms, i) => (ms >= p99 ? [{ atMs: Math.round(sampledAt[i]!), ms: round(ms) }] : [])),
      };
      const pairedFloor = opts.floorProbe
        ? {
            connectInsert: summarize(floor.connectInsert),
            barePush: summarize(floor.barePush),
            bareDispatch: summarize(floor.bareDispatch),
            ...(floor.peer.length ? { peer: summarize(floor.peer) } : {}),
          }
        : undefined;
      const perCreateMs = cpu.create.perSample();
      const perBareDispatchMs = cpu.bare.perSample();
      const cpuFigures = perCreateMs === undefined ? undefined : { perCreateMs, ...(perBareDispatchMs === undefined ? {} : { perBareDispatchMs }) };
      result.levels.push({ agents: level, latency, failures, tail, statementMs, ...(pairedFloor ? { pairedFloor } : {}), ...(cpuFigures ? { cpu: cpuFigures } : {}) });
      const alongside = pairedFloor
        ? ` (floor alongside: connect+INSERT p50 ${pairedFloor.connectInsert.p50} ms + bare push p50 ${pairedFloor.barePush.p50} ms; bare dispatch p50 ${pairedFloor.bareDispatch.p50} ms` +
          `${pairedFloor.peer ? `; graphile-worker add→start p50 ${pairedFloor.peer.p50} ms` : ""})`
        : "";
      const cpuText = cpuFigures ? `; workerd CPU per create ${cpuFigures.perCreateMs} ms${perBareDispatchMs === undefined ? "" : ` (bare dispatch ${perBareDispatchMs} ms)`}` : "";
      progress.line(`  dispatch [${opts.pooler}] ${level} agents: p50 ${latency.p50} ms, p95 ${latency.p95} ms, p99 ${latency.p99} ms${alongside}${cpuText}`);
      progress.line(`    p99 and slower at ${tailText(tail)}`);
      const bareInsert = statementMs.bareInsert.n > 0 ? `, the bare dispatch's INSERT p50 ${statementMs.bareInsert.p50} ms` : "";
      progress.line(`    in Postgres (at the SQL endpoint): the create's statement p50 ${statementMs.create.p50} ms${bareInsert}`);
    }

    if (opts.hibernation) {
      result.hibernation = await fromHibernation(ctx, fleet, byCommand, adminToken, targeted, opts.hibernation);
      const l = result.hibernation.latency;
      const w = result.hibernation.warmReference;
      progress.line(`  dispatch [${opts.pooler}] from hibernation (${l.n} agents): p50 ${l.p50} ms, p95 ${l.p95} ms, p99 ${l.p99} ms (same request, DO awake: p50 ${w.p50} ms)`);
    }
    return result;
  } finally {
    await retireFleet(ctx, fleet, prefix);
  }
}

async function fromHibernation(
  ctx: BenchContext,
  fleet: AgentFleet,
  byCommand: Rendezvous<string, number>,
  adminToken: string,
  targeted: Set<string>,
  opts: { samples: number; idleMs: number },
): Promise<NonNullable<DispatchResult["hibernation"]>> {
  const adminCommand = async (agentId: string): Promise<number> => {
    const started = now();
    const res = await ctx.stack.api("POST", `/api/v1/admin/agents/${encodeURIComponent(agentId)}/command`, {
      token: adminToken,
      body: { action: "stop_session", sessionId: `hib-${agentId}` },
    });
    if (res.status !== 201) throw new Error(`admin command answered ${res.status}`);
    return (await byCommand.wait(String(res.body.commandId), FRAME_TIMEOUT_MS)) - started;
  };
  // Agents never chosen by the warm phase: idle since their connect or last heartbeat.
  const ids = fleet.ids().filter((id) => !targeted.has(id));
  const idle = ids.slice(0, Math.min(opts.samples, ids.length - 1)); // the last one is the reference
  fleet.heartbeatAll();
  const quietSince = Date.now();
  fleet.pauseHeartbeats(true);
  try {
    await sleep(1_000); // let the heartbeat burst drain
    // The reference, during the idle wait and under the same (paused) background: the same
    // request to one agent kept awake by the previous one. The idle agents see none of it.
    const reference = ids[ids.length - 1] ?? fleet.ids()[0]!;
    const warm: number[] = [];
    for (let i = -WARMUP; i < opts.samples; i++) {
      const ms = await adminCommand(reference);
      if (i >= 0) warm.push(ms);
      ctx.progress.update(`admin command, warm reference: ${Math.max(0, i + 1)}/${opts.samples}`);
    }
    await waitShowing(quietSince, opts.idleMs, (ms) => ctx.progress.update(`idle ${(ms / 1000).toFixed(1)} s so Durable Objects hibernate`));
    const samples: number[] = [];
    let failures = 0;
    for (const agentId of idle) {
      if (Date.now() - quietSince > HIBERNATION_BUDGET_MS) break;
      try {
        samples.push(await adminCommand(agentId));
      } catch {
        failures++;
        samples.push(FRAME_TIMEOUT_MS); // the longest wait, not no sample (see the warm levels)
      }
      ctx.progress.update(`from hibernation: ${samples.length}/${idle.length}`);
    }
    return { agents: samples.length, idleMs: opts.idleMs, latency: summarize(samples), failures, warmReference: summarize(warm) };
  } finally {
    fleet.pauseHeartbeats(false);
    fleet.heartbeatAll();
  }
}

/**
 * Sums CPU readings taken around each sample. /proc counts in 10 ms ticks, so one sample's
 * difference is coarse, but the sum over all of them is exact up to one tick at each end.
 */
class CpuTally {
  #total = 0;
  #count = 0;

  add(before: number | undefined, after: number | undefined): void {
    if (before === undefined || after === undefined) return;
    this.#total += after - before;
    this.#count++;
  }

  perSample(): number | undefined {
    return this.#count === 0 ? undefined : Math.round((this.#total / this.#count) * 100) / 100;
  }
}

/** "+0.4 s (161 ms), +9.6 s (110 ms) into the samples, after a 8.1 s connect", in time order. */
function tailText(tail: DispatchLevel["tail"]): string {
  const at = [...tail.samples].sort((a, b) => a.atMs - b.atMs).map((s) => `+${(s.atMs / 1000).toFixed(1)} s (${Math.round(s.ms)} ms)`);
  return `${at.join(", ")} into the samples, after a ${(tail.connectMs / 1000).toFixed(1)} s connect`;
}
