/** Named queries for `sessions`. */
import { and, desc, eq, inArray, isNull, notInArray, or, sql } from "drizzle-orm";
import type { Queryable } from "../client";
import { listOrder, sessions } from "../schema";
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

export type SessionListFilter = {
  userId?: string | undefined;
  state?: string | undefined;
  /** Only sessions listed after this one (newest first): the previous page's last id. */
  after?: string | undefined;
  limit: number;
};

/**
 * Newest first (ties by id; a row without `created_at`, which only an import leaves, last), at
 * most `limit`; paged by the last id of the page before. Undefined when `after` names no session
 * of the listing: with `userId`, another user's session is unknown too, or a user could learn
 * from the answer which ids other users have.
 */
export async function sessionList(db: Queryable, filter: SessionListFilter): Promise<SessionRow[] | undefined> {
  const key = sql`(${listOrder(sessions.createdAt)}, ${sessions.id})`;
  const cursorOwner = filter.userId ? sql` and user_id = ${filter.userId}` : sql``;
  const after = filter.after
    ? sql`${key} < (select ${listOrder(sql`created_at`)}, id from ${sessions} where id = ${filter.after}${cursorOwner})`
    : undefined;
  const rows = await db
    .select()
    .from(sessions)
    .where(and(filter.userId ? eq(sessions.userId, filter.userId) : undefined, filter.state ? eq(sessions.state, filter.state) : undefined, after))
    .orderBy(desc(listOrder(sessions.createdAt)), desc(sessions.id))
    .limit(filter.limit);
  if (rows.length === 0 && filter.after) {
    const cursor = await sessionGetById(db, filter.after);
    if (!cursor || (filter.userId && cursor.userId !== filter.userId)) return undefined;
  }
  return rows;
}

/**
 * Moves a session to `to` only while it is in one of `from` (given `{ not }`, in none of those);
 * returns false when another request changed it first (the caller answers 409).
 */
export async function sessionTransition(
  db: Queryable,
  id: string,
  from: StatesFrom,
  to: string,
  extra: Partial<Pick<SessionRow, "terminatedAt" | "terminationReason">> = {},
): Promise<boolean> {
  const guard =
    "not" in from ? or(isNull(sessions.state), notInArray(sessions.state, [...from.not])) : inArray(sessions.state, [...from]);
  const rows = await db
    .update(sessions)
    .set({ state: to, updatedAt: sql`now()`, ...extra })
    .where(and(eq(sessions.id, id), guard))
    .returning({ id: sessions.id });
  return rows.length > 0;
}

/** The states a move may start from: these, or any (NULL too) but these. */
export type StatesFrom = readonly string[] | { not: readonly string[] };

/**
 * States in which a session has no pod to show: its pod and VNC url are cleared on the way in
 * (migration 0014 applies the same rule to the moves of agents' answers).
 */
const NO_POD = ["hibernated", "terminated", "failed"];
const NO_POD_SQL = sql.raw(`(${NO_POD.map((s) => `'${s}'`).join(", ")})`);

function withoutPodIn(to: string): Partial<Pick<SessionRow, "podName" | "url">> {
  return NO_POD.includes(to) ? { podName: "", url: "" } : {};
}

/** A session move an ended command implies: from one of `from` to `to`, if its agent still owns it. */
export type SessionMove = { sessionId: string; agentId: string; from: readonly string[]; to: string };

/**
 * sessionTransitionForAgent for many sessions in one statement (the sweep's batches): the
 * transaction that ended their commands holds the row locks it takes (the sessions', and through
 * the load trigger their agents') for one round trip, not one per session. Returns how many moved.
 */
export async function sessionTransitionsForAgents(db: Queryable, moves: readonly SessionMove[]): Promise<number> {
  if (moves.length === 0) return 0;
  const rows = moves.map((m) => ({ session_id: m.sessionId, agent_id: m.agentId, from_states: m.from, to_state: m.to }));
  const moved = await db.execute(sql`update ${sessions} s
    set state = m.to_state, updated_at = now(),
        terminated_at = case when m.to_state = 'terminated' then now() else s.terminated_at end,
        pod_name = case when m.to_state in ${NO_POD_SQL} then '' else s.pod_name end,
        url = case when m.to_state in ${NO_POD_SQL} then '' else s.url end
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as m(session_id text, agent_id text, from_states jsonb, to_state text)
    where s.id = m.session_id and s.agent_id = m.agent_id
      and s.state in (select jsonb_array_elements_text(m.from_states))
    returning s.id`);
  return moved.rows.length;
}

/**
 * A wake or hibernate the agent reports as run after it ended here (expired, cancelled, or failed
 * for lack of an answer): its session went back to where the command left it from (`hibernated`,
 * `running`), while the agent did what it was asked, and nothing else would show it. The session
 * takes the state the command reaches, with the pod and url a completion gives it (migration
 * 0014's rule), unless another command of the session is open (an action under way decides) or
 * the answer reports another state (`reportedState`: the agent says it did not get there).
 * True when it moved. Both states count toward the agent's load: the counter does not change.
 */
export async function sessionAfterLateRun(
  db: Queryable,
  agentId: string,
  commandId: string,
  result: Record<string, unknown> | null,
  reportedState: string | null,
): Promise<boolean> {
  const answer = result === null ? null : JSON.stringify(result);
  const rows = await db.execute(sql`update ${sessions} s set state = ran.to_state, updated_at = now(),
      pod_name = case when ran.to_state = 'hibernated' then ''
        when jsonb_typeof(${answer}::jsonb->'podName') = 'string' then left(${answer}::jsonb->>'podName', 255) else s.pod_name end,
      url = case when ran.to_state = 'hibernated' then ''
        when jsonb_typeof(${answer}::jsonb->'vncPort') = 'number' and (${answer}::jsonb->>'vncPort')::numeric > 0
          then '/api/v1/sessions/' || s.id || '/vnc' else s.url end
    from (select c.session_id,
        case c.action when 'wake_session' then 'hibernated' else 'running' end as from_state,
        case c.action when 'wake_session' then 'running' else 'hibernated' end as to_state
      from agent_commands c
      where c.command_id = ${commandId} and c.agent_id = ${agentId} and c.session_id is not null
        and c.action in ('wake_session', 'hibernate_session') and c.status in ('expired', 'cancelled', 'failed')) ran
    where s.id = ran.session_id and s.agent_id = ${agentId} and s.state = ran.from_state
      and (${reportedState}::text is null or ${reportedState}::text = ran.to_state)
      and not exists (select 1 from agent_commands other where other.session_id = s.id and other.status in ('pending', 'sent', 'ack'))
    returning s.id`);
  return rows.rows.length > 0;
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
    .set({ state: to, updatedAt: sql`now()`, ...terminal, ...withoutPodIn(to) })
    .where(and(eq(sessions.id, id), eq(sessions.agentId, agentId), inArray(sessions.state, [...from])))
    .returning({ id: sessions.id });
  return rows.length > 0;
}

/**
 * An agent's `status` frame, applied only to that agent's own sessions (checklist item 48) and
 * not to a session in one of the `unless` states.
 */
export async function sessionApplyAgentStatus(
  db: Queryable,
  agentId: string,
  update: { sessionId: string; state: string; podName: string; url: string },
  unless: readonly string[],
): Promise<boolean> {
  const rows = await db
    .update(sessions)
    .set({
      state: update.state,
      podName: update.podName,
      url: update.url,
      // A state that shows no pod shows none, whatever the frame carried.
      ...withoutPodIn(update.state),
      updatedAt: sql`now()`,
      lastActivity: sql`now()`,
      ...(update.state === "terminated" ? { terminatedAt: sql`now()` } : {}),
    })
    .where(and(eq(sessions.id, update.sessionId), eq(sessions.agentId, agentId), notInArray(sessions.state, [...unless])))
    .returning({ id: sessions.id });
  return rows.length > 0;
}

/**
 * Reconciler (checklist 50): sessions stuck in `state` for more than `minutes` whose agent is
 * gone (deleted, or not online and not heard from for as long) move to `to` with
 * termination_reason 'agent_unavailable'. Not online at this instant is not enough: an agent
 * reconnecting after a blip (spec: 2–20 s) would lose a start still legitimately running.
 * Heard from is its last heartbeat, not its row's updated_at, which a registration moves: an
 * agent that registers every minute and never connects is gone.
 * A start given up on (`failed`) has its command cancelled in the same statement, so an agent
 * coming back later is not sent a start for a session that has failed. (A stop still goes out:
 * whatever it ran may still be running.)
 */
export async function sessionGiveUpOnAgent(
  db: Queryable,
  state: "terminating" | "pending",
  to: "terminated" | "failed",
  minutes: number,
  limit: number,
): Promise<string[]> {
  const rows = await db.execute(sql`with given as (
      update ${sessions} set state = ${to}, termination_reason = 'agent_unavailable', updated_at = now(), pod_name = '', url = '',
        terminated_at = case when ${to}::text = 'terminated' then now() else terminated_at end
      where id in (select s.id from ${sessions} s left join agents a on a.agent_id = s.agent_id
        where s.state = ${state} and s.updated_at < now() - make_interval(mins => ${minutes})
          and (a.agent_id is null
            or (a.status is distinct from 'online'
              and (a.last_heartbeat is null or a.last_heartbeat < now() - make_interval(mins => ${minutes}))))
        limit ${limit} for update of s skip locked)
      returning id),
    cancelled as (
      update agent_commands set status = 'cancelled', lease_expires_at = null, next_attempt_at = null, updated_at = now(),
        error_message = ${`session failed: its agent was gone for ${minutes} minutes`}
      where ${to}::text = 'failed' and action = 'start_session' and status in ('pending', 'sent', 'ack')
        and session_id in (select id from given))
    select id from given`);
  return rows.rows.map((r) => String((r as { id: unknown }).id));
}

/**
 * Sessions left without an agent (it was deleted: `agent_id` set NULL) in a state only an agent's
 * answer could move on, unchanged for more than `minutes`, end `terminated` with
 * termination_reason 'agent_unavailable'. Nothing else would ever move them: every user action
 * needs the session's agent. (`pending` and `terminating` are sessionGiveUpOnAgent's.)
 */
export async function sessionEndOrphaned(db: Queryable, minutes: number, limit: number): Promise<string[]> {
  const orphaned = sql`select s.id from ${sessions} s
    where s.agent_id is null and s.state in ('running', 'hibernated', 'hibernating', 'waking')
      and s.updated_at < now() - make_interval(mins => ${minutes})
    limit ${limit} for update skip locked`;
  const rows = await db
    .update(sessions)
    .set({ state: "terminated", terminationReason: "agent_unavailable", updatedAt: sql`now()`, terminatedAt: sql`now()`, ...withoutPodIn("terminated") })
    .where(sql`${sessions.id} in (${orphaned})`)
    .returning({ id: sessions.id });
  return rows.map((r) => r.id);
}

/**
 * Sessions stuck `terminating` for more than `minutes` whose agent is online and whose stop was
 * not retried yet: stop candidates. Those already retried are left out here, not only by the
 * retry's own check: they keep their old `updated_at`, and listed first they would fill every
 * batch and starve newer ones. Only the stops since the session became `terminating` count (its
 * `updated_at`, which the DELETE writes with its stop and nothing changes while it waits): a stop
 * from before, one removing the pod of a start run after it failed, is not a retry.
 */
export async function sessionListStuckTerminating(
  db: Queryable,
  minutes: number,
  limit: number,
): Promise<Array<{ id: string; agentId: string }>> {
  const rows = await db.execute<{ id: string; agent_id: string }>(sql`
    select s.id, s.agent_id from ${sessions} s join agents a on a.agent_id = s.agent_id
    where s.state = 'terminating' and s.updated_at < now() - make_interval(mins => ${minutes}) and a.status = 'online'
      and (select count(*) from agent_commands c where c.session_id = s.id and c.action = 'stop_session'
        and c.created_at >= s.updated_at) < 2
    order by s.updated_at limit ${limit}`);
  return rows.rows.map((r) => ({ id: r.id, agentId: r.agent_id }));
}

/**
 * Locks the session row for the rest of the transaction while it is in `state`; false if it is
 * not, or (unless `wait`) if another transaction holds it.
 */
export async function sessionLock(db: Queryable, id: string, state: string, opts: { wait?: boolean } = {}): Promise<boolean> {
  const lock = opts.wait ? sql`for update` : sql`for update skip locked`;
  const rows = await db.execute(sql`select 1 from ${sessions} where id = ${id} and state = ${state} ${lock}`);
  return rows.rows.length > 0;
}
