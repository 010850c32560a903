/**
 * Peer: graphile-worker, a mature Postgres-backed job queue, on the same Postgres (its own
 * scratch database), with its default concurrency of 10 and LISTEN/NOTIFY wake-ups. The closest
 * off-the-shelf answer to "a row in Postgres becomes work somewhere else", so the dispatcher's
 * create→frame latency is compared with its add_job→task start.
 */
import { EventEmitter } from "node:events";
import { randomBytes } from "node:crypto";
import { Logger, makeWorkerUtils, run } from "graphile-worker";
import pg from "pg";
import type { WorkerEvents } from "graphile-worker";
import { createScratchDatabase } from "../../local-postgres";
import type { LatencySummary } from "../stats";
import { perSecond, summarize } from "../stats";
import { Rendezvous, now, pollUntil, runBounded } from "../util";

export type GraphileResult = {
  addToStart: LatencySummary;
  throughput: { jobs: number; inFlightAdds: number; concurrency: number; elapsedMs: number; perSecond: number };
};

/** graphile-worker logs every job at info level: far too chatty for a benchmark. */
const silentLogger = new Logger(() => () => {});

/** A running graphile-worker on its own scratch database: one add→start at a time, or a burst. */
export type GraphilePeer = {
  /** One job's add_job → task start, in ms. */
  addToStart(): Promise<number>;
  /** `jobs` jobs added `inFlightAdds` at a time; until all completed. */
  throughput(jobs: number, inFlightAdds: number): Promise<GraphileResult["throughput"]>;
  stop(): Promise<void>;
};

export async function startGraphile(serverUrl: string): Promise<GraphilePeer> {
  const scratch = await createScratchDatabase(serverUrl, `bench_gw_${process.pid}_${randomBytes(3).toString("hex")}`);
  const concurrency = 10; // graphile-worker's default, stated for the report
  const starts = new Rendezvous<number, number>();
  const finished = new Rendezvous<number, number>();
  let completed = 0;
  const events: WorkerEvents = new EventEmitter();
  events.on("job:complete", ({ job }) => {
    completed++;
    const id = (job.payload as { id?: unknown } | null)?.id;
    if (typeof id === "number" && id < 0) finished.arrive(id, now());
  });
  // Our own pool, so its idle clients have an error handler when the scratch database is
  // dropped (DROP … WITH (FORCE) terminates them) and it is ended only after the runner stopped.
  const pgPool = new pg.Pool({ connectionString: scratch.url, max: concurrency + 2 });
  pgPool.on("error", () => {});
  pgPool.on("connect", (client) => client.on("error", () => {}));
  const common = { pgPool, logger: silentLogger };
  const utils = await makeWorkerUtils(common);
  let runner: Awaited<ReturnType<typeof run>> | undefined;
  const stop = async () => {
    await runner?.stop().catch(() => {});
    await Promise.resolve()
      .then(() => utils.release())
      .catch(() => {});
    await pgPool.end().catch(() => {});
    await scratch.drop().catch(() => {});
  };
  try {
    await utils.migrate();
    runner = await run({
      ...common,
      concurrency,
      noHandleSignals: true,
      events,
      taskList: {
        bench: async (payload) => {
          const id = (payload as { id?: unknown }).id;
          if (typeof id === "number" && id < 0) starts.arrive(id, now());
        },
      },
    });
  } catch (err) {
    await stop();
    throw err;
  }
  // Latency jobs have negative ids (recorded); throughput jobs non-negative (only counted).
  let latencyJobs = 0;
  return {
    async addToStart() {
      const id = -++latencyJobs;
      const started = now();
      await utils.addJob("bench", { id });
      const at = await starts.wait(id, 10_000);
      // Returns once graphile has also finished the job (its own bookkeeping after the start), so
      // that work does not overlap whatever the caller measures next.
      await finished.wait(id, 10_000);
      return at - started;
    },
    async throughput(jobs, inFlightAdds) {
      await pollUntil("latency jobs completed", () => completed >= latencyJobs, 10_000, 10);
      const base = completed;
      const started = now();
      const errors = await runBounded(jobs, inFlightAdds, async (i) => {
        await utils.addJob("bench", { id: i });
      });
      if (errors.length) throw new Error(`graphile-worker: ${errors.length} add_job calls failed, e.g. ${String(errors[0])}`);
      await pollUntil("all jobs completed", () => completed - base >= jobs, 120_000, 5);
      const elapsedMs = now() - started;
      return { jobs, inFlightAdds, concurrency, elapsedMs, perSecond: perSecond(jobs, elapsedMs) };
    },
    stop,
  };
}

/** The up-front measurement: latency samples one at a time, then a burst for jobs/s. */
export async function measureGraphile(opts: {
  serverUrl: string;
  latencySamples: number;
  jobs: number;
  inFlightAdds: number;
  onProgress?: (text: string) => void;
}): Promise<GraphileResult> {
  const peer = await startGraphile(opts.serverUrl);
  try {
    const samples: number[] = [];
    for (let i = 1; i <= opts.latencySamples + 5; i++) {
      const ms = await peer.addToStart();
      if (i > 5) samples.push(ms);
    }
    opts.onProgress?.(`latency done; throughput: ${opts.jobs} jobs`);
    return { addToStart: summarize(samples), throughput: await peer.throughput(opts.jobs, opts.inFlightAdds) };
  } finally {
    await peer.stop();
  }
}
