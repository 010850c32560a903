/**
 * Named queries for `agent_commands`. Every status change carries a guard in its WHERE so the
 * status only moves forward: pending → sent → ack → completed | failed (checklist item 35).
 */
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import type { Queryable } from "../client";
import { agentCommands, agents } from "../schema";
import type { CommandRow } from "../schema";

export type NewCommand = {
  commandId: string;
  agentId: string;
  sessionId: string | null;
  action: string;
  payload: unknown;
};

export async function commandInsert(db: Queryable, cmd: NewCommand): Promise<CommandRow> {
  const [row] = await db.insert(agentCommands).values({ ...cmd, status: "pending" }).returning();
  return row!;
}

export async function commandGetById(db: Queryable, commandId: string): Promise<CommandRow | undefined> {
  const [row] = await db.select().from(agentCommands).where(eq(agentCommands.commandId, commandId)).limit(1);
  return row;
}

export async function commandList(
  db: Queryable,
  filter: { agentId?: string | undefined; status?: string | undefined; limit: number },
): Promise<CommandRow[]> {
  return db
    .select()
    .from(agentCommands)
    .where(
      and(
        filter.agentId ? eq(agentCommands.agentId, filter.agentId) : undefined,
        filter.status ? eq(agentCommands.status, filter.status) : undefined,
      ),
    )
    .orderBy(desc(agentCommands.createdAt), desc(agentCommands.seq))
    .limit(filter.limit);
}

/**
 * Claims up to `limit` of the agent's pending commands by marking them `sent`, oldest first,
 * and returns them in delivery order. SKIP LOCKED makes concurrent claimers take disjoint rows,
 * so no row is handed out twice.
 */
export async function commandClaimPending(db: Queryable, agentId: string, limit: number): Promise<CommandRow[]> {
  const oldestPending = db
    .select({ id: agentCommands.id })
    .from(agentCommands)
    .where(and(eq(agentCommands.agentId, agentId), eq(agentCommands.status, "pending")))
    .orderBy(asc(agentCommands.createdAt), asc(agentCommands.seq))
    .limit(limit)
    .for("update", { skipLocked: true });
  const claimed = db.$with("claimed").as(
    db
      .update(agentCommands)
      .set({ status: "sent", sentAt: sql`now()`, updatedAt: sql`now()`, attempts: sql`${agentCommands.attempts} + 1` })
      .where(inArray(agentCommands.id, oldestPending))
      .returning(),
  );
  // RETURNING does not keep the subquery's order; the outer SELECT restores it.
  return db.with(claimed).select().from(claimed).orderBy(asc(claimed.createdAt), asc(claimed.seq));
}

/** Puts claimed commands back to `pending` when the socket went away before they were sent. */
export async function commandRelease(db: Queryable, commandIds: string[]): Promise<void> {
  if (commandIds.length === 0) return;
  await db
    .update(agentCommands)
    .set({ status: "pending", sentAt: null, updatedAt: sql`now()` })
    .where(and(inArray(agentCommands.commandId, commandIds), eq(agentCommands.status, "sent")));
}

/** `ack` from the owning agent; a late ack never overwrites a finished command. */
export async function commandAck(db: Queryable, agentId: string, commandId: string): Promise<boolean> {
  const rows = await db
    .update(agentCommands)
    .set({ status: "ack", acknowledgedAt: sql`now()`, updatedAt: sql`now()` })
    .where(
      and(
        eq(agentCommands.commandId, commandId),
        eq(agentCommands.agentId, agentId),
        inArray(agentCommands.status, ["pending", "sent"]),
      ),
    )
    .returning({ id: agentCommands.id });
  return rows.length > 0;
}

/** `complete` from the owning agent; returns the row if this call finished it. */
export async function commandComplete(
  db: Queryable,
  agentId: string,
  commandId: string,
  result: unknown,
): Promise<CommandRow | undefined> {
  const [row] = await db
    .update(agentCommands)
    .set({ status: "completed", completedAt: sql`now()`, updatedAt: sql`now()`, result: result ?? null })
    .where(
      and(
        eq(agentCommands.commandId, commandId),
        eq(agentCommands.agentId, agentId),
        inArray(agentCommands.status, ["pending", "sent", "ack"]),
      ),
    )
    .returning();
  return row;
}

/** `failed` from the owning agent; `completed_at` stays NULL as in the original. */
export async function commandFail(
  db: Queryable,
  agentId: string,
  commandId: string,
  error: string,
): Promise<CommandRow | undefined> {
  const [row] = await db
    .update(agentCommands)
    .set({ status: "failed", errorMessage: error, updatedAt: sql`now()` })
    .where(
      and(
        eq(agentCommands.commandId, commandId),
        eq(agentCommands.agentId, agentId),
        inArray(agentCommands.status, ["pending", "sent", "ack"]),
      ),
    )
    .returning();
  return row;
}

/**
 * Agents that are online and have a pending command older than `graceSeconds`: the sweep's
 * work list. Younger commands are left to the API's own fast-path delivery.
 */
export async function commandAgentsWithPending(
  db: Queryable,
  graceSeconds: number,
  limit: number,
): Promise<string[]> {
  const rows = await db
    .selectDistinct({ agentId: agentCommands.agentId })
    .from(agentCommands)
    .innerJoin(agents, eq(agents.agentId, agentCommands.agentId))
    .where(
      and(
        eq(agentCommands.status, "pending"),
        sql`${agentCommands.createdAt} <= now() - make_interval(secs => ${graceSeconds})`,
        eq(agents.status, "online"),
      ),
    )
    .limit(limit);
  return rows.flatMap((r) => (r.agentId ? [r.agentId] : []));
}

/**
 * Back to `pending`: commands `sent` to this agent on an earlier socket and never acknowledged.
 * Called when a new socket connects, so they are delivered again on it.
 */
export async function commandRequeueUnacked(db: Queryable, agentId: string): Promise<number> {
  const rows = await db
    .update(agentCommands)
    .set({ status: "pending", updatedAt: sql`now()` })
    .where(and(eq(agentCommands.agentId, agentId), eq(agentCommands.status, "sent")))
    .returning({ id: agentCommands.id });
  return rows.length;
}

/** The oldest command of `sessionId` sent to `agentId` and not finished (docker-agent replies). */
export async function commandInFlightForSession(
  db: Queryable,
  agentId: string,
  sessionId: string,
): Promise<CommandRow | undefined> {
  const [row] = await db
    .select()
    .from(agentCommands)
    .where(
      and(
        eq(agentCommands.agentId, agentId),
        eq(agentCommands.sessionId, sessionId),
        inArray(agentCommands.status, ["sent", "ack"]),
      ),
    )
    .orderBy(asc(agentCommands.createdAt), asc(agentCommands.seq))
    .limit(1);
  return row;
}
