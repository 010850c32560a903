/**
 * The system under test, assembled as the Node tests assemble it (test/node/helpers/stack.ts):
 * the machine's Postgres with a fresh migrated scratch database, PgBouncer in transaction mode
 * (Neon's pooler stand-in), the WebSocket→TCP proxy the Neon driver needs, and the real Worker
 * bundle in workerd through Miniflare. The Worker can be restarted on the direct path so the
 * dispatch scenario can compare both.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { hashAgentKey, newAgentKey } from "../agent-key";
import { apiClient } from "../api-client";
import type { ApiCall } from "../api-client";
import { createScratchDatabase, findPostgres } from "../local-postgres";
import type { LocalPostgres } from "../local-postgres";
import { migrateDatabase } from "../migrate";
import { findPgBouncer, startPgBouncer } from "../pgbouncer";
import type { PgBouncer } from "../pgbouncer";
import { mintToken } from "../token";
import { bundleWorker, startLocalWorker } from "../worker-runtime";
import type { LocalWorker, WorkerSecrets } from "../worker-runtime";
import { startWsProxy } from "../ws-proxy";
import type { WsProxy } from "../ws-proxy";
import type { AgentCredentials } from "./agents";
import { BENCH_APPLICATION_NAME, PgStats } from "./pg-stats";
import { watchForNewWorkerd } from "./proc";
import { StatementTimes } from "./statement-times";
import { isRunning } from "../pid";

export type PoolerMode = "pgbouncer" | "direct";

/** PgBouncer's default_pool_size as src/local/pgbouncer.ts configures it. */
export const PGBOUNCER_POOL_SIZE = 40;

export const BENCH_TEMPLATE = "bench-template";

/** Server backends PgBouncer is made to open up front: enough for the isolated operations. */
const WARM_POOL_SERVERS = 10;

export type BenchStack = {
  server: LocalPostgres;
  /** Direct URL of the scratch database (bench bookkeeping goes here, never through the Worker). */
  dbUrl: string;
  /** The URL the Worker is given for `mode`. */
  workerDbUrl(mode: PoolerMode): string;
  /** Whether the Worker pipelines its connection start-up on this path (PgBouncer asks for a cleartext password). */
  pipelineConnect(mode: PoolerMode): boolean;
  proxyPort: number;
  pooler: PgBouncer | undefined;
  worker: LocalWorker;
  workerMode: PoolerMode;
  /** pid of the Worker's workerd (for CPU accounting); undefined if not found. */
  workerPid: number | undefined;
  jwtSecret: string;
  sql: pg.Pool;
  stats: PgStats;
  /** The database time of the statements the Worker and the bare Worker send over HTTP. */
  statementTimes: StatementTimes;
  httpUrl(): string;
  wsUrl(): string;
  token(user: string, admin?: boolean): Promise<string>;
  api: ApiCall;
  /** Inserts `count` approved, offline agents `<prefix>-<i>` with their own keys, in one statement. */
  makeAgents(prefix: string, count: number): Promise<AgentCredentials[]>;
  /** Stops the Worker and starts it again with DATABASE_URL for `mode`, on a fresh port. */
  useWorker(mode: PoolerMode): Promise<void>;
  stop(): Promise<void>;
};

/** Scratch databases this harness names `bench_<pid>_<hex>` (graphile's: `bench_gw_<pid>_<hex>`). */
const SCRATCH_NAME = /^bench_(?:gw_)?(\d+)_[0-9a-f]{6}$/;

/**
 * Drops scratch databases left by bench runs that no longer exist. A run killed outright (e.g.
 * SIGKILL from a wrapper) cannot clean up after itself; the next one does.
 */
export async function dropStaleScratchDatabases(serverUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: serverUrl, application_name: BENCH_APPLICATION_NAME });
  await client.connect();
  try {
    const { rows } = await client.query(`select datname from pg_database where datname like 'bench\\_%'`);
    const stale = (rows as Array<{ datname: string }>)
      .map((r) => r.datname)
      .filter((name) => {
        const pid = Number(SCRATCH_NAME.exec(name)?.[1] ?? Number.NaN);
        return Number.isInteger(pid) && pid !== process.pid && !isRunning(pid);
      });
    for (const name of stale) await client.query(`drop database if exists "${name}" with (force)`);
    return stale;
  } finally {
    await client.end();
  }
}

export async function startBenchStack(opts: { pooler: PoolerMode; needPgBouncer: boolean }): Promise<BenchStack> {
  // Bundling (wrangler, ~7 s) overlaps the database set-up; startLocalWorker reuses the result.
  const bundling = bundleWorker();
  bundling.catch(() => {});
  const server = await findPostgres({ preferMachine: true });
  if (server.kind === "embedded") throw new Error("the bench needs a real Postgres server (127.0.0.1:5432 or DATABASE_URL)");
  await dropStaleScratchDatabases(server.url);
  const name = `bench_${process.pid}_${randomBytes(3).toString("hex")}`;
  const scratch = await createScratchDatabase(server.url, name);
  const cleanups: Array<() => Promise<void>> = [() => scratch.drop()];
  const cleanup = async () => {
    for (const fn of [...cleanups].reverse()) await fn().catch(() => {});
  };
  let stopping: Promise<void> | undefined;
  try {
    await migrateDatabase(scratch.url);
    const binary = opts.needPgBouncer ? findPgBouncer() : undefined;
    if (opts.needPgBouncer && !binary) throw new Error("PgBouncer is not installed (or POOLER=none): use --pooler direct");
    const pooler = binary ? await startPgBouncer(binary, scratch.url) : undefined;
    if (pooler) cleanups.push(() => pooler.close());
    const statementTimes = new StatementTimes();
    const proxy: WsProxy = await startWsProxy(0, { onStatement: statementTimes.observe });
    cleanups.push(() => proxy.close());
    const sql = new pg.Pool({ connectionString: scratch.url, max: 6, application_name: BENCH_APPLICATION_NAME });
    cleanups.push(() => sql.end());
    await sql.query(`insert into templates (name, manifest) values ($1, '{}'::jsonb)`, [BENCH_TEMPLATE]);
    const stats = await PgStats.open({
      serverUrl: server.url,
      dbUrl: scratch.url,
      ...(pooler ? { pooled: { url: pooler.url, poolSize: PGBOUNCER_POOL_SIZE, proxyPort: proxy.port } } : {}),
    });
    cleanups.push(() => stats.close());
    // Once, on the idle database: what a reading itself adds (see pg-stats.ts).
    await stats.warmPool(WARM_POOL_SERVERS);
    await stats.calibrate();

    const jwtSecret = randomBytes(32).toString("hex");
    const workerDbUrl = (mode: PoolerMode) => (mode === "pgbouncer" && pooler ? pooler.url : scratch.url);
    const pipelineConnect = (mode: PoolerMode) => mode === "pgbouncer" && pooler !== undefined;
    const secrets = (mode: PoolerMode): WorkerSecrets => ({
      DATABASE_URL: workerDbUrl(mode),
      DB_WS_PROXY: `127.0.0.1:${proxy.port}`,
      DB_PIPELINE_CONNECT: String(pipelineConnect(mode)),
      JWT_SECRET: jwtSecret,
      AGENT_BOOTSTRAP_KEY: "",
      // Every bench agent connects from 127.0.0.1: the per-IP limit would throttle them.
      RATE_LIMIT_ENABLED: "false",
    });
    const start = async (mode: PoolerMode) => {
      const newWorkerd = watchForNewWorkerd();
      const worker = await startLocalWorker(secrets(mode));
      const pid = newWorkerd();
      return { worker, pid };
    };
    const first = await start(opts.pooler);

    const stack: BenchStack = {
      server,
      dbUrl: scratch.url,
      workerDbUrl,
      pipelineConnect,
      proxyPort: proxy.port,
      pooler,
      worker: first.worker,
      workerMode: opts.pooler,
      workerPid: first.pid,
      jwtSecret,
      sql,
      stats,
      statementTimes,
      httpUrl: () => stack.worker.url,
      wsUrl: () => stack.worker.url.replace(/^http/, "ws"),
      token: (user, admin = false) => mintToken(user, admin, 2, jwtSecret),
      api: apiClient(() => stack.worker.url),
      async makeAgents(prefix, count) {
        const creds = Array.from({ length: count }, (_, i) => ({ agentId: `${prefix}-${i}`, key: newAgentKey() }));
        const hashes = creds.map((c) => hashAgentKey(c.key));
        await sql.query(
          `insert into agents (agent_id, platform, region, status, approval_status, api_key_hash)
           select id, 'kubernetes', 'default', 'offline', 'approved', hash from unnest($1::text[], $2::text[]) as t(id, hash)`,
          [creds.map((c) => c.agentId), hashes],
        );
        return creds;
      },
      async useWorker(mode) {
        if (mode === stack.workerMode) return;
        await stack.worker.stop();
        const next = await start(mode);
        stack.worker = next.worker;
        stack.workerPid = next.pid;
        stack.workerMode = mode;
      },
      // Once: an interrupt and the run's own teardown may both ask, and must share one clean-up.
      stop() {
        stopping ??= (async () => {
          await stack.worker.stop().catch(() => {});
          await cleanup();
        })();
        return stopping;
      },
    };
    return stack;
  } catch (err) {
    await cleanup();
    throw err;
  }
}
