/**
 * Postgres activity counters for the scratch database: transactions (xact_commit/rollback) and
 * row writes, read from pg_stat_database through a connection to *another* database so that
 * reading them adds nothing to what is measured.
 *
 * Postgres 15 keeps per-backend stats pending and flushes them when the backend goes idle, but
 * no more than once a second; a backend that flushed less than a second ago defers the rest by
 * up to 10 s. PgBouncer keeps its server backends alive, so waiting is slow and uncertain.
 * Instead, before each reading the bench occupies every server connection of PgBouncer's pool
 * at once, each in a transaction that calls pg_stat_force_next_flush(): every backend the Worker
 * could have used then flushes when that transaction ends. Without PgBouncer, the Worker's
 * backends exit after each request and flush on exit.
 *
 * A reading adds a few transactions of its own (the forcing transactions, backend start-ups,
 * PgBouncer's server checks). `calibrate()` measures that overhead on an idle database, and
 * `delta()` subtracts it.
 */
import pg from "pg";
import { sleep } from "./util";

export type PgCounters = {
  xacts: number;
  rollbacks: number;
  inserted: number;
  updated: number;
  deleted: number;
  /** n_tup_upd of the `agents` table (heartbeats and status writes land here). */
  agentsUpdated: number;
};

export type Snapshot = PgCounters;

export class PgStats {
  readonly #server: pg.Client;
  readonly #dbName: string;
  readonly #dbUrl: string;
  /** PgBouncer URL of the scratch database and its pool size; undefined when direct. */
  readonly #pooled: { url: string; poolSize: number } | undefined;
  /** Transactions one snapshot adds by itself; see calibrate(). */
  overheadXacts = 0;

  private constructor(server: pg.Client, dbName: string, dbUrl: string, pooled: { url: string; poolSize: number } | undefined) {
    this.#server = server;
    this.#dbName = dbName;
    this.#dbUrl = dbUrl;
    this.#pooled = pooled;
  }

  static async open(opts: { serverUrl: string; dbUrl: string; pooled?: { url: string; poolSize: number } }): Promise<PgStats> {
    const server = new pg.Client({ connectionString: opts.serverUrl });
    await server.connect();
    const dbName = decodeURIComponent(new URL(opts.dbUrl).pathname.slice(1));
    return new PgStats(server, dbName, opts.dbUrl, opts.pooled);
  }

  /** Flushes every backend's pending stats and reads the counters. */
  async snapshot(): Promise<Snapshot> {
    if (this.#pooled) await this.#forceFlushPool(this.#pooled);
    // Direct backends flush on exit, which follows pool.end() in the Worker's waitUntil.
    await sleep(this.#pooled ? 250 : 1_200);
    const { rows } = await this.#server.query(
      `select xact_commit::float8 as xacts, xact_rollback::float8 as rollbacks, tup_inserted::float8 as inserted,
              tup_updated::float8 as updated, tup_deleted::float8 as deleted
       from pg_stat_database where datname = $1`,
      [this.#dbName],
    );
    const db = rows[0] as Omit<PgCounters, "agentsUpdated">;
    // A short-lived client: its backend exits (and flushes its one transaction) at once.
    const scratch = new pg.Client({ connectionString: this.#dbUrl });
    await scratch.connect();
    const table = await scratch.query(`select coalesce(n_tup_upd, 0)::float8 as n from pg_stat_user_tables where relname = 'agents'`);
    await scratch.end();
    return { ...db, agentsUpdated: Number(table.rows[0]?.n ?? 0) };
  }

  /**
   * Measures a snapshot's own transactions: consecutive snapshots with nothing else running.
   * The minimum is taken, since anything else running could only add. Call on an idle database.
   */
  async calibrate(rounds = 3): Promise<number> {
    let previous = await this.snapshot();
    const deltas: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const next = await this.snapshot();
      deltas.push(next.xacts - previous.xacts);
      previous = next;
    }
    this.overheadXacts = Math.min(...deltas);
    return this.overheadXacts;
  }

  /** What happened between two snapshots, minus one snapshot's own transactions. */
  delta(before: Snapshot, after: Snapshot): PgCounters {
    return {
      xacts: after.xacts - before.xacts - this.overheadXacts,
      rollbacks: after.rollbacks - before.rollbacks,
      inserted: after.inserted - before.inserted,
      updated: after.updated - before.updated,
      deleted: after.deleted - before.deleted,
      agentsUpdated: after.agentsUpdated - before.agentsUpdated,
    };
  }

  async #forceFlushPool(pooled: { url: string; poolSize: number }): Promise<void> {
    const clients = Array.from({ length: pooled.poolSize }, () => new pg.Client({ connectionString: pooled.url }));
    try {
      await Promise.all(clients.map((c) => c.connect()));
      // All transactions open at once: PgBouncer must hand each a different server backend.
      await Promise.all(clients.map((c) => c.query("begin")));
      // Touching a relation matters: a backend with no pending relation stats skips the flush
      // altogether, keeping its transaction counts (ours, PgBouncer's checks) for later.
      await Promise.all(clients.map((c) => c.query("select pg_stat_force_next_flush(), (select count(*) from pg_catalog.pg_class)")));
      await Promise.all(clients.map((c) => c.query("commit")));
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => {})));
    }
  }

  async close(): Promise<void> {
    await this.#server.end().catch(() => {});
  }
}
