/** Named queries for the `agents` table. */
import { and, desc, eq, sql } from "drizzle-orm";
import type { Queryable } from "../client";
import { agents } from "../schema";
import type { AgentRow } from "../schema";

/**
 * An agent is selectable only with a heartbeat newer than this (spec §1.10). The selection
 * itself runs inside create_session_with_command (migrations/0002; 0003 for the load it reads).
 */
export const SELECTION_WINDOW_SECONDS = 90;

export type AgentRegistration = {
  agentId: string;
  platform: string;
  region: string;
  capacity: unknown;
  metadata: unknown;
};

export async function agentGetById(db: Queryable, agentId: string): Promise<AgentRow | undefined> {
  const [row] = await db.select().from(agents).where(eq(agents.agentId, agentId)).limit(1);
  return row;
}

/**
 * agentGetById for a request presenting a key whose sha256 form is `keyHash`: the same read,
 * and when the key is the agent's current one its last use is recorded by the same statement
 * (the row returned is as it was before). One round trip per agent connect instead of two.
 */
export async function agentGetByIdTouchingKey(db: Queryable, agentId: string, keyHash: string): Promise<AgentRow | undefined> {
  const touched = db.$with("touched").as(
    db
      .update(agents)
      .set({ apiKeyLastUsedAt: sql`now()` })
      .where(and(eq(agents.agentId, agentId), eq(agents.apiKeyHash, keyHash)))
      .returning({ id: agents.id }),
  );
  const [row] = await db.with(touched).select().from(agents).where(eq(agents.agentId, agentId)).limit(1);
  return row;
}

/** Inserts a new agent awaiting approval (bootstrap-key registration, spec §1.4). */
export async function agentInsertPending(db: Queryable, reg: AgentRegistration): Promise<AgentRow> {
  const [row] = await db
    .insert(agents)
    .values({ ...reg, status: "offline", approvalStatus: "pending", lastHeartbeat: sql`now()` })
    .onConflictDoUpdate({
      target: agents.agentId,
      set: { platform: reg.platform, region: reg.region, capacity: reg.capacity, metadata: reg.metadata, updatedAt: sql`now()` },
    })
    .returning();
  return row!;
}

/** Re-registration refreshes what the agent reports. Unlike the original it does not set
 * `online`: only a live socket (or an HTTP heartbeat) makes an agent selectable. */
export async function agentUpdateRegistration(db: Queryable, reg: AgentRegistration): Promise<AgentRow | undefined> {
  const [row] = await db
    .update(agents)
    .set({ platform: reg.platform, region: reg.region, capacity: reg.capacity, metadata: reg.metadata, updatedAt: sql`now()` })
    .where(eq(agents.agentId, reg.agentId))
    .returning();
  return row;
}

/**
 * Records a successful use of a legacy (bcrypt) key and replaces its hash with the fast form,
 * only while the agent still has that hash: a key rotated meanwhile must not come back.
 */
export async function agentUpgradeLegacyKey(db: Queryable, agentId: string, hash: { from: string; to: string }): Promise<void> {
  await db
    .update(agents)
    .set({ apiKeyLastUsedAt: sql`now()`, apiKeyHash: hash.to })
    .where(and(eq(agents.agentId, agentId), eq(agents.apiKeyHash, hash.from)));
}

/** A socket connected or a heartbeat arrived: online, fresh heartbeat, capacity if reported. */
export async function agentMarkOnline(db: Queryable, agentId: string, capacity?: unknown): Promise<void> {
  await db
    .update(agents)
    .set({
      status: "online",
      lastHeartbeat: sql`now()`,
      updatedAt: sql`now()`,
      ...(capacity === undefined ? {} : { capacity }),
    })
    .where(eq(agents.agentId, agentId));
}

export async function agentMarkOffline(db: Queryable, agentId: string): Promise<void> {
  await db.update(agents).set({ status: "offline", updatedAt: sql`now()` }).where(eq(agents.agentId, agentId));
}

export async function agentList(
  db: Queryable,
  filter: { platform?: string | undefined; status?: string | undefined; region?: string | undefined },
): Promise<AgentRow[]> {
  const where = and(
    filter.platform ? eq(agents.platform, filter.platform) : undefined,
    filter.status ? eq(agents.status, filter.status) : undefined,
    filter.region ? eq(agents.region, filter.region) : undefined,
  );
  return db.select().from(agents).where(where).orderBy(desc(agents.createdAt));
}

/** Approves a pending agent and stores its new key hash; undefined if it was not pending. */
export async function agentApprove(
  db: Queryable,
  agentId: string,
  approvedBy: string,
  apiKeyHash: string,
): Promise<AgentRow | undefined> {
  const [row] = await db
    .update(agents)
    .set({
      approvalStatus: "approved",
      approvedAt: sql`now()`,
      approvedBy,
      apiKeyHash,
      apiKeyCreatedAt: sql`now()`,
      updatedAt: sql`now()`,
    })
    .where(and(eq(agents.agentId, agentId), eq(agents.approvalStatus, "pending")))
    .returning();
  return row;
}

export async function agentReject(db: Queryable, agentId: string, rejectedBy: string): Promise<AgentRow | undefined> {
  const [row] = await db
    .update(agents)
    .set({ approvalStatus: "rejected", approvedAt: sql`now()`, approvedBy: rejectedBy, updatedAt: sql`now()` })
    .where(and(eq(agents.agentId, agentId), eq(agents.approvalStatus, "pending")))
    .returning();
  return row;
}

/** Deletes the agent (its commands cascade, its sessions keep a NULL agent); false if absent. */
export async function agentDelete(db: Queryable, agentId: string): Promise<boolean> {
  const rows = await db.delete(agents).where(eq(agents.agentId, agentId)).returning({ id: agents.id });
  return rows.length > 0;
}

/** Stores a new key hash; returns its creation time, or undefined when there is no such agent (deleted since it was read). */
export async function agentSetKey(db: Queryable, agentId: string, apiKeyHash: string): Promise<Date | undefined> {
  const [row] = await db
    .update(agents)
    .set({ apiKeyHash, apiKeyCreatedAt: sql`now()`, updatedAt: sql`now()` })
    .where(eq(agents.agentId, agentId))
    .returning({ createdAt: agents.apiKeyCreatedAt });
  return row ? (row.createdAt ?? new Date()) : undefined;
}

/** The HTTP heartbeat (spec §5.5): sets the reported status, which may be `draining`. */
export async function agentRecordHttpHeartbeat(
  db: Queryable,
  agentId: string,
  status: string,
  capacity: unknown,
): Promise<AgentRow | undefined> {
  const [row] = await db
    .update(agents)
    .set({
      status,
      lastHeartbeat: sql`now()`,
      updatedAt: sql`now()`,
      ...(capacity === undefined ? {} : { capacity }),
    })
    .where(eq(agents.agentId, agentId))
    .returning();
  return row;
}

/** Agents still `online` whose stored heartbeat is older than `seconds`: the sweep's backstop list. */
export async function agentListStaleOnline(db: Queryable, seconds: number, limit: number): Promise<string[]> {
  const rows = await db
    .select({ agentId: agents.agentId })
    .from(agents)
    .where(
      and(
        eq(agents.status, "online"),
        sql`(${agents.lastHeartbeat} is null or ${agents.lastHeartbeat} < now() - make_interval(secs => ${seconds}))`,
      ),
    )
    .limit(limit);
  return rows.map((r) => r.agentId);
}

/** Marks the agent offline only if it is still online with a stale heartbeat (a rerun is harmless). */
export async function agentMarkOfflineIfStale(db: Queryable, agentId: string, seconds: number): Promise<boolean> {
  const rows = await db
    .update(agents)
    .set({ status: "offline", updatedAt: sql`now()` })
    .where(
      and(
        eq(agents.agentId, agentId),
        eq(agents.status, "online"),
        sql`(${agents.lastHeartbeat} is null or ${agents.lastHeartbeat} < now() - make_interval(secs => ${seconds}))`,
      ),
    )
    .returning({ id: agents.id });
  return rows.length > 0;
}
