/**
 * Postgres activity counters for the scratch database: transactions (xact_commit/rollback) and
 * row writes, read from pg_stat_database through a connection to *another* database so that
 * reading them adds nothing to what is measured.
 *
 * Postgres 15 keeps per-backend stats pending and flushes them when the backend goes idle, but
 * no more than once a second; a backend that flushed less than a second ago defers the rest by
 * up to 10 s, and one whose transactions touched no table may keep its counts indefinitely.
 * PgBouncer keeps its server backends alive, so waiting is slow and uncertain. Instead, before
 * each reading the bench occupies every server backend PgBouncer holds for the database at once,
 * each in a transaction that calls pg_stat_force_next_flush() and reads a catalog table: every
 * backend the Worker could have used then flushes when that transaction ends. The forcing
 * clients are Neon-driver clients like the Worker's: with other startup parameters PgBouncer
 * would re-SET application_name on each switch, adding transactions of its own. Without
 * PgBouncer, the Worker's backends exit after each request and flush on exit.
 *
 * A reading adds transactions of its own (one per forcing client, plus its short-lived reader).
 * `delta()` subtracts the forcing ones it counted and the rest as measured by `calibrate()`.
 */
import { Client as NeonClient } from "@neondatabase/serverless";
import pg from "pg";
import { configureNeonDriver } from "./neon-driver";
import { sleep } from "./util";

export type PgCounters = {
  /** Committed transactions, without the one each new connection's start-up commits. */
  xacts: number;
  /** Connections (backends) started: PgBouncer reuses its own; direct, every Worker pool opens one. */
  sessions: number;
  rollbacks: number;
  inserted: number;
  updated: number;
  deleted: number;
  /** n_tup_upd of the `agents` table (heartbeats and status writes land here). */
  agentsUpdated: number;
};

export type Snapshot = PgCounters & { forced: number };

/** application_name of the bench's own direct connections, so they are not taken for PgBouncer's. */
export const BENCH_APPLICATION_NAME = "edge-dispatch-bench";

export class PgStats {
  readonly #server: pg.Client;
  readonly #dbName: string;
  readonly #dbUrl: string;
  /** PgBouncer URL of the scratch database and its pool size; undefined when direct. */
  readonly #pooled: { url: string; poolSize: number; proxyPort: number } | undefined;
  /** Transactions and connections one snapshot adds besides its forcing ones (its reader); see calibrate(). */
  overheadXacts = 0;
  overheadSessions = 0;

  private constructor(server: pg.Client, dbName: string, dbUrl: string, pooled: { url: string; poolSize: number; proxyPort: number } | undefined) {
    this.#server = server;
    this.#dbName = dbName;
    this.#dbUrl = dbUrl;
    this.#pooled = pooled;
  }

  static async open(opts: { serverUrl: string; dbUrl: string; pooled?: { url: string; poolSize: number; proxyPort: number } }): Promise<PgStats> {
    const server = new pg.Client({ connectionString: opts.serverUrl });
    await server.connect();
    const dbName = decodeURIComponent(new URL(opts.dbUrl).pathname.slice(1));
    return new PgStats(server, dbName, opts.dbUrl, opts.pooled);
  }

  /** Flushes every backend's pending stats and reads the counters. */
  async snapshot(): Promise<Snapshot> {
    const forced = this.#pooled ? await this.#forceFlushPool(this.#pooled) : 0;
    // A backend reports its stats before it answers COMMIT, so the forced flushes are done;
    // direct backends flush on exit, which follows pool.end() in the Worker's waitUntil.
    await sleep(this.#pooled ? 50 : 1_200);
    const { rows } = await this.#server.query(
      `select xact_commit::float8 as xacts, sessions::float8 as sessions, xact_rollback::float8 as rollbacks, tup_inserted::float8 as inserted,
              tup_updated::float8 as updated, tup_deleted::float8 as deleted
       from pg_stat_database where datname = $1`,
      [this.#dbName],
    );
    const db = rows[0] as Omit<PgCounters, "agentsUpdated">;
    // A short-lived client: its backend exits (and flushes its one transaction) at once.
    const scratch = new pg.Client({ connectionString: this.#dbUrl, application_name: BENCH_APPLICATION_NAME });
    await scratch.connect();
    const table = await scratch.query(`select coalesce(n_tup_upd, 0)::float8 as n from pg_stat_user_tables where relname = 'agents'`);
    await scratch.end();
    return { ...db, agentsUpdated: Number(table.rows[0]?.n ?? 0), forced };
  }

  /**
   * Measures a snapshot's own transactions: consecutive snapshots with nothing else running.
   * The minimum is taken, since anything else running could only add. Call on an idle database.
   */
  async calibrate(rounds = 2): Promise<number> {
    await this.snapshot(); // the first one may still open PgBouncer's server connections
    let previous = await this.snapshot();
    const deltas: number[] = [];
    const sessions: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const next = await this.snapshot();
      deltas.push(next.xacts - previous.xacts - (next.sessions - previous.sessions) - next.forced);
      sessions.push(next.sessions - previous.sessions);
      previous = next;
    }
    this.overheadXacts = Math.min(...deltas);
    this.overheadSessions = Math.min(...sessions);
    return this.overheadXacts;
  }

  /** Backends of the scratch database doing something (not idle) right now, other than readers. */
  async busyBackends(): Promise<number> {
    const { rows } = await this.#server.query(
      `select count(*)::int as n from pg_stat_activity where datname = $1 and state is not null and state <> 'idle'`,
      [this.#dbName],
    );
    return (rows[0] as { n: number }).n;
  }

  /**
   * Waits until no backend of the scratch database has been busy for `quietMs` (polled), e.g.
   * for Durable Objects to finish their connect drains, which lag behind the `online` write.
   */
  async waitQuiet(quietMs = 300, timeoutMs = 15_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let quietSince = Date.now();
    while (Date.now() < deadline) {
      if ((await this.busyBackends()) > 0) quietSince = Date.now();
      else if (Date.now() - quietSince >= quietMs) return true;
      await sleep(50);
    }
    return false;
  }

  /** What happened between two snapshots, minus one snapshot's own transactions. */
  delta(before: Snapshot, after: Snapshot): PgCounters {
    return {
      // A backend's start-up commits a transaction of its own (catalog reads): not the operation's.
      xacts: after.xacts - before.xacts - (after.sessions - before.sessions) - after.forced - this.overheadXacts,
      sessions: after.sessions - before.sessions - this.overheadSessions,
      rollbacks: after.rollbacks - before.rollbacks,
      inserted: after.inserted - before.inserted,
      updated: after.updated - before.updated,
      deleted: after.deleted - before.deleted,
      agentsUpdated: after.agentsUpdated - before.agentsUpdated,
    };
  }

  /**
   * Makes PgBouncer open `count` server backends now (they stay for its server_idle_timeout), so
   * a short burst during a measurement does not open new ones, whose start-ups would count.
   */
  async warmPool(count: number): Promise<void> {
    if (!this.#pooled) return;
    configureNeonDriver(this.#pooled.proxyPort, true);
    const clients = Array.from({ length: count }, () => new NeonClient(this.#pooled!.url));
    try {
      await Promise.all(clients.map((c) => c.connect()));
      await Promise.all(clients.map((c) => c.query("begin")));
      await Promise.all(clients.map((c) => c.query("commit")));
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => {})));
    }
  }

  /** Returns the number of forcing transactions (one per server backend PgBouncer holds). */
  async #forceFlushPool(pooled: { url: string; poolSize: number; proxyPort: number }): Promise<number> {
    // Only as many as PgBouncer holds: opening all poolSize would pin that many backends on a
    // Postgres other programs share (max_connections).
    const { rows } = await this.#server.query(
      `select count(*)::int as n from pg_stat_activity
       where datname = $1 and backend_type = 'client backend' and application_name <> $2`,
      [this.#dbName, BENCH_APPLICATION_NAME],
    );
    const servers = Math.min(pooled.poolSize, (rows[0] as { n: number }).n);
    if (servers === 0) return 0;
    configureNeonDriver(pooled.proxyPort, true);
    const clients = Array.from({ length: servers }, () => {
      const client = new NeonClient(pooled.url);
      client.on("error", () => {});
      return client;
    });
    try {
      await Promise.all(clients.map((c) => c.connect()));
      // All transactions open at once: PgBouncer must hand each a different server backend.
      await Promise.all(clients.map((c) => c.query("begin")));
      // Touching a relation matters: a backend with no pending relation stats skips the flush
      // altogether, keeping its transaction counts (ours, PgBouncer's checks) for later.
      await Promise.all(clients.map((c) => c.query("select pg_stat_force_next_flush(), (select count(*) from pg_catalog.pg_class)")));
      await Promise.all(clients.map((c) => c.query("commit")));
      return servers;
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => {})));
    }
  }

  async close(): Promise<void> {
    await this.#server.end().catch(() => {});
  }
}
