/** Named queries for `sessions`. */
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import type { Queryable } from "../client";
import { sessions } from "../schema";
import type { SessionRow } from "../schema";

export type NewSession = typeof sessions.$inferInsert;

export async function sessionInsert(db: Queryable, row: NewSession): Promise<SessionRow> {
  const [inserted] = await db.insert(sessions).values(row).returning();
  return inserted!;
}

export async function sessionGetById(db: Queryable, id: string): Promise<SessionRow | undefined> {
  const [row] = await db.select().from(sessions).where(eq(sessions.id, id)).limit(1);
  return row;
}

export async function sessionList(db: Queryable, filter: { userId?: string | undefined }): Promise<SessionRow[]> {
  return db
    .select()
    .from(sessions)
    .where(filter.userId ? eq(sessions.userId, filter.userId) : undefined)
    .orderBy(desc(sessions.createdAt));
}

/**
 * Moves a session to `to` only while it is in one of `from`; returns false when another
 * request changed it first (the caller answers 409).
 */
export async function sessionTransition(
  db: Queryable,
  id: string,
  from: readonly string[],
  to: string,
  extra: Partial<Pick<SessionRow, "terminatedAt" | "terminationReason">> = {},
): Promise<boolean> {
  const rows = await db
    .update(sessions)
    .set({ state: to, updatedAt: sql`now()`, ...extra })
    .where(and(eq(sessions.id, id), inArray(sessions.state, [...from])))
    .returning({ id: sessions.id });
  return rows.length > 0;
}

/** Same as sessionTransition, but only for a session owned by `agentId` (agent-driven changes). */
export async function sessionTransitionForAgent(
  db: Queryable,
  agentId: string,
  id: string,
  from: readonly string[],
  to: string,
): Promise<boolean> {
  const terminal = to === "terminated" ? { terminatedAt: sql`now()` } : {};
  const rows = await db
    .update(sessions)
    .set({ state: to, updatedAt: sql`now()`, ...terminal })
    .where(and(eq(sessions.id, id), eq(sessions.agentId, agentId), inArray(sessions.state, [...from])))
    .returning({ id: sessions.id });
  return rows.length > 0;
}

/** An agent's `status` frame, applied only to that agent's own sessions (checklist item 48). */
export async function sessionApplyAgentStatus(
  db: Queryable,
  agentId: string,
  update: { sessionId: string; state: string; podName: string; url: string },
): Promise<boolean> {
  const rows = await db
    .update(sessions)
    .set({
      state: update.state,
      podName: update.podName,
      url: update.url,
      updatedAt: sql`now()`,
      lastActivity: sql`now()`,
      ...(update.state === "terminated" ? { terminatedAt: sql`now()` } : {}),
    })
    .where(and(eq(sessions.id, update.sessionId), eq(sessions.agentId, agentId)))
    .returning({ id: sessions.id });
  return rows.length > 0;
}
