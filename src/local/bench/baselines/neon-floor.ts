/**
 * Floor (i), as the task defines it: a fresh Neon-driver connection and one INSERT, from Node,
 * through the same WebSocket proxy (and PgBouncer when the Worker uses it), the driver configured
 * exactly as src/db/client.ts configures it. The dispatch itself opens no connection: its
 * statements go over SQL-over-HTTP to the proxy's warm pool. So the floor pays a WebSocket
 * handshake and a pooler start-up the dispatch does not; with `--pooler direct` also a fresh
 * Postgres backend (several ms), which flatters the direct path's ratio.
 */
import { Client } from "@neondatabase/serverless";
import pg from "pg";
import { configureNeonDriver } from "../neon-driver";
import type { LatencySummary } from "../stats";
import { summarize } from "../stats";
import { now } from "../util";

export type NeonFloorResult = { connectInsert: LatencySummary; path: string };

/** One connect + INSERT sample at a time, against a table made for it (see measureNeonFloor). */
export type NeonFloorProbe = { once(): Promise<number> };

/**
 * The tables the floor's INSERT and the bare dispatch's write (`bench_floor`), and the bare
 * exchange's (`bench_bare_commands`), in the database at `directUrl`.
 */
export async function createFloorTables(directUrl: string): Promise<void> {
  const admin = new pg.Client({ connectionString: directUrl });
  await admin.connect();
  try {
    await admin.query(`create table if not exists bench_floor (id bigserial primary key, at timestamptz not null default now())`);
    await admin.query(
      `create table if not exists bench_bare_commands (id bigserial primary key, created_at timestamptz not null default now(), acked_at timestamptz, completed_at timestamptz)`,
    );
  } finally {
    await admin.end();
  }
}

export async function openNeonFloor(opts: {
  url: string;
  /** Direct URL of the same database, to create the table. */
  directUrl: string;
  proxyPort: number;
  /** As the Worker is configured for this endpoint (DB_PIPELINE_CONNECT). */
  pipelineConnect: boolean;
}): Promise<NeonFloorProbe> {
  await createFloorTables(opts.directUrl);
  configureNeonDriver(opts.proxyPort, opts.pipelineConnect);
  return {
    // Closing the connection is not timed: the Worker closes its pool in waitUntil, after the work that matters.
    async once() {
      const started = now();
      const client = new Client(opts.url);
      client.on("error", () => {});
      await client.connect();
      await client.query(`insert into bench_floor (at) values (now())`);
      const elapsed = now() - started;
      await client.end();
      return elapsed;
    },
  };
}

/** Sequential samples of connect + INSERT against `url`. */
export async function measureNeonFloor(opts: Parameters<typeof openNeonFloor>[0] & { samples: number; label: string }): Promise<NeonFloorResult> {
  const probe = await openNeonFloor(opts);
  for (let i = 0; i < 5; i++) await probe.once(); // warm: JIT, the proxy's and PgBouncer's first connections
  const samples: number[] = [];
  for (let i = 0; i < opts.samples; i++) samples.push(await probe.once());
  return { connectInsert: summarize(samples), path: opts.label };
}
