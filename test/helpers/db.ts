/** Direct database access for tests: reset, factories and reads, through the product's driver. */
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import type { SQL } from "drizzle-orm";
import { createDb, dbOptions } from "../../src/db/client";
import { readConfig } from "../../src/env";
import type { Db, DbOptions } from "../../src/db/client";
import { generateApiKey, hashApiKey } from "../../src/lib/api-key";

/** The options the Worker opens the test database with; `extra` as a Durable Object or a test sets them. */
export function testDbOptions(extra: Partial<DbOptions> = {}): DbOptions {
  return { ...dbOptions(readConfig(env)), ...extra };
}

/** Runs `fn` with a fresh Pool and closes it afterwards. */
export async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const handle = createDb(testDbOptions());
  try {
    return await fn(handle.db);
  } finally {
    await handle.end();
  }
}

/** Rows of a raw query, for assertions. */
export async function query<T extends Record<string, unknown>>(statement: SQL): Promise<T[]> {
  return withDb(async (db) => (await db.execute(statement)).rows as T[]);
}

export async function resetDatabase(): Promise<void> {
  await query(sql`truncate agent_commands, sessions, agents, templates, idempotency_keys restart identity cascade`);
}

let counter = 0;
/** A unique id for this test file's agents and users. */
export function uniqueId(prefix: string): string {
  counter++;
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}-${counter}`;
}

export type TestAgent = { agentId: string; apiKey: string };

/** An approved agent with its own key (offline until a socket connects). */
export async function makeAgent(
  opts: { agentId?: string; platform?: string; approvalStatus?: string } = {},
): Promise<TestAgent> {
  const agentId = opts.agentId ?? uniqueId("agent");
  const apiKey = generateApiKey();
  const hash = await hashApiKey(apiKey);
  await query(sql`insert into agents (agent_id, platform, region, status, api_key_hash, approval_status)
    values (${agentId}, ${opts.platform ?? "kubernetes"}, 'default', 'offline', ${hash}, ${opts.approvalStatus ?? "approved"})`);
  return { agentId, apiKey };
}

export async function makeTemplate(name: string, manifest: Record<string, unknown> = {}): Promise<void> {
  await query(sql`insert into templates (name, manifest) values (${name}, ${JSON.stringify(manifest)}::jsonb)
    on conflict (name) do update set manifest = excluded.manifest`);
}

export type CommandRecord = {
  command_id: string;
  agent_id: string | null;
  session_id: string | null;
  action: string;
  status: string;
  error_message: string | null;
  result: unknown;
  attempts: number;
  sent_at: Date | null;
  acknowledged_at: Date | null;
  completed_at: Date | null;
};

export async function getCommand(commandId: string): Promise<CommandRecord | undefined> {
  const [row] = await query<CommandRecord>(sql`select * from agent_commands where command_id = ${commandId}`);
  return row;
}

export async function getAgentRow(agentId: string) {
  const [row] = await query<{ status: string; last_heartbeat: Date | null; capacity: unknown; approval_status: string }>(
    sql`select * from agents where agent_id = ${agentId}`,
  );
  return row;
}

export async function getSessionRow(id: string) {
  const [row] = await query<{ state: string; agent_id: string; pod_name: string | null; url: string | null }>(
    sql`select * from sessions where id = ${id}`,
  );
  return row;
}

/** Polls `check` until it returns a non-undefined value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Waits until a statement of this database waits on a lock (one the test holds), and returns its
 * backend's pid, for a test to cancel it or to know its request is blocked. With `on`, only a
 * statement whose text names that table counts (an agent's heartbeat may wait on the same lock).
 */
export async function waitForLockWaiter(what: string, opts: { on?: string; timeoutMs?: number } = {}): Promise<number> {
  const on = opts.on ? sql`and query ilike ${`%${opts.on}%`}` : sql``;
  return waitFor(
    what,
    async () => {
      const [row] = await query<{ pid: number }>(
        sql`select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' ${on} limit 1`,
      );
      return row?.pid;
    },
    opts.timeoutMs,
  );
}
