/**
 * Named queries for `agent_commands`. Every status change carries a guard in its WHERE so the
 * status only moves forward: pending → sent → ack → completed | failed, and pending → expired,
 * anything unfinished → cancelled (checklist item 35; README "Delivery").
 */
import { and, asc, desc, eq, getTableColumns, inArray, isNull, lte, or, sql } from "drizzle-orm";
import type { Placeholder, SQL, SQLWrapper } from "drizzle-orm";
import type { Db, Queryable } from "../client";
import { compiled, inOneTransaction } from "../compiled";
import { agentCommands, agents, commandStatusIs, sessions } from "../schema";
import type { CommandRow } from "../schema";
import { isForeignKeyViolation } from "../../errors";

/** The statuses an administrator's retry takes a command from (commandRetry). */
export const RETRYABLE_STATUSES: readonly string[] = ["failed", "expired"];

/** Statuses an agent's answer can still move forward. */
const OPEN_STATUSES = ["pending", "sent", "ack"];

/** Lease lengths, from the delivery policy. */
export type LeaseSettings = { ackLeaseSeconds: number; runLeaseSeconds: number };

export type NewCommand = {
  commandId: string;
  agentId: string;
  sessionId: string | null;
  action: string;
  payload: unknown;
  /** Deadline; null = none. */
  expiresAt?: Date | null;
  maxAttempts?: number;
};

/**
 * At most this many older pending ids come back with an insert; that many means a backlog,
 * which the DO drains rather than pushes past. create_session_with_command (migrations/0006)
 * and agent_pending_command_ids (0025) use the same number.
 */
export const OLDER_PENDING_LIMIT = 100;

/**
 * For a command just inserted: the ids of the same agent's other commands still pending. The DO
 * may push this one straight away, without breaking the agent's FIFO, only if it has pushed all
 * of those already. Read by a function of migration 0025 with a snapshot of its own: the insert
 * waited for the agent's row (0025's trigger) while another transaction that held it committed a
 * command, and the statement's own snapshot, taken before the wait, would miss it. The inserted
 * row's agent is named with its table: drizzle writes a column in RETURNING unqualified.
 */
export const olderPendingIdsColumn = sql<string[]>`agent_pending_command_ids(${agentCommands}.agent_id, ${agentCommands}.command_id)`;

export async function commandInsert(db: Queryable, cmd: NewCommand): Promise<CommandRow & { olderPendingIds: string[] }> {
  const [row] = await db
    .insert(agentCommands)
    .values({ ...cmd, status: "pending" })
    .returning({ ...getTableColumns(agentCommands), olderPendingIds: olderPendingIdsColumn });
  return row!;
}

/**
 * commandInsert for an agent that may not exist: undefined when it does not (the foreign key
 * answers that), so the caller needs no read first. Inside a transaction the refusal aborts it.
 */
export async function commandInsertIfAgentExists(
  db: Queryable,
  cmd: NewCommand,
): Promise<(CommandRow & { olderPendingIds: string[] }) | undefined> {
  try {
    return await commandInsert(db, cmd);
  } catch (err) {
    if (isForeignKeyViolation(err, AGENT_FOREIGN_KEY)) return undefined;
    throw err;
  }
}

/** agent_commands.agent_id → agents.agent_id, as drizzle-kit named it (migrations/0000). */
const AGENT_FOREIGN_KEY = "agent_commands_agent_id_agents_agent_id_fk";

export async function commandGetById(db: Queryable, commandId: string): Promise<CommandRow | undefined> {
  const [row] = await db.select().from(agentCommands).where(eq(agentCommands.commandId, commandId)).limit(1);
  return row;
}

/**
 * Where a page of commandList ended: the last row's place in the list's order, `created_at`
 * (UTC, to the microsecond; `-infinity` for NULL) and `seq`, as `<created_at>~<seq>`. Not the
 * command's id: an admin retry moves a command to the back of its agent's queue (`created_at`
 * now), and a cursor read off the command then would start the next page over from the newest.
 */
export type CommandCursor = string;

const CURSOR = /^(-?infinity|\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)~(\d{1,18})$/;

/** Whether `after` is a cursor commandList could have given (anything else is no cursor of ours). */
export function isCommandCursor(after: string): boolean {
  return CURSOR.test(after);
}

/**
 * Newest first (a row whose `created_at` an update set NULL last; an insert cannot, see migration
 * 0016), at most `limit`; paged by the cursor of the page before, which must be well formed
 * (isCommandCursor). Each row comes with its own cursor.
 */
export async function commandList(
  db: Queryable,
  filter: { agentId?: string | undefined; status?: string | undefined; after?: CommandCursor | undefined; limit: number },
): Promise<(CommandRow & { cursor: CommandCursor })[]> {
  // Insertion order breaks ties: `seq` is unique, so pages neither repeat nor skip a command.
  const orderAt = sql`coalesce(${agentCommands.createdAt}, '-infinity')`;
  const place = filter.after ? CURSOR.exec(filter.after) : null;
  if (filter.after && !place) throw new Error(`not a command cursor: ${filter.after}`);
  return db
    .select({
      ...getTableColumns(agentCommands),
      cursor: sql<CommandCursor>`(case when ${agentCommands.createdAt} is null then '-infinity'
        when not isfinite(${agentCommands.createdAt}) then ${agentCommands.createdAt}::text else to_char(${agentCommands.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') end) || '~' || ${agentCommands.seq}`,
    })
    .from(agentCommands)
    .where(
      and(
        filter.agentId ? eq(agentCommands.agentId, filter.agentId) : undefined,
        filter.status ? eq(agentCommands.status, filter.status) : undefined,
        place ? sql`(${orderAt}, ${agentCommands.seq}) < (${place[1]}::timestamptz, ${place[2]}::bigint)` : undefined,
      ),
    )
    .orderBy(sql`${orderAt} desc`, desc(agentCommands.seq))
    .limit(filter.limit);
}

/**
 * The lease a `sent` command gets: the ack lease, except for docker-platform agents, which never
 * send `ack` (docker-agent answers only with its final command_response/command_error), so
 * their whole run must fit in the lease. (finish_agent_command, migrations/0005, applies the
 * same rule to the next command it relets.)
 */
function sentLeaseSeconds(agentId: SQLWrapper | string, ackLeaseSeconds: LeaseValue, runLeaseSeconds: LeaseValue): SQL {
  return sql`(case when (select platform from ${agents} where ${agents.agentId} = ${agentId}) = 'docker'
    then ${runLeaseSeconds}::float8 else ${ackLeaseSeconds}::float8 end)`;
}

/** A lease length, or the placeholder of a compiled statement that stands for one. */
type LeaseValue = number | Placeholder;

/**
 * A pending command the agent may be sent now: its backoff is over, its deadline is not, and no
 * older command of its agent is still waiting out a re-delivery backoff. An agent gets its
 * commands in order, re-deliveries included: a stop created while the start before it waits to
 * be sent again must not overtake it (the agent would stop nothing, then start a pod for a
 * terminated session). One past its deadline holds nothing: the sweep expires it.
 * idx_agent_commands_backoff (migration 0011) holds just the rows in a backoff.
 */
const claimable = and(
  eq(agentCommands.status, "pending"),
  or(isNull(agentCommands.nextAttemptAt), lte(agentCommands.nextAttemptAt, sql`now()`)),
  or(isNull(agentCommands.expiresAt), sql`${agentCommands.expiresAt} > now()`),
  sql`not exists (select 1 from ${agentCommands} waiting where waiting.agent_id = ${agentCommands.agentId}
    and waiting.status = 'pending' and waiting.next_attempt_at is not null and waiting.next_attempt_at > now()
    and (waiting.expires_at is null or waiting.expires_at > now())
    and (waiting.created_at, waiting.seq) < (${agentCommands.createdAt}, ${agentCommands.seq}))`,
);

/** What a delivery needs of a claimed command. */
export type ClaimedCommand = Pick<CommandRow, "commandId" | "action" | "payload">;

type ClaimValues = { agentId: string; limit: number; ackLeaseSeconds: number; runLeaseSeconds: number };

const claimPending = compiled<ClaimValues>((db, p) => {
  const oldestPending = db
    .select({ id: agentCommands.id })
    .from(agentCommands)
    .where(and(eq(agentCommands.agentId, p.agentId), claimable))
    .orderBy(asc(agentCommands.createdAt), asc(agentCommands.seq))
    .limit(p.limit)
    .for("update", { skipLocked: true });
  const claimed = db.$with("claimed").as(
    db
      .update(agentCommands)
      .set(markedSent(p.agentId, p))
      .where(inArray(agentCommands.id, oldestPending))
      .returning({
        commandId: agentCommands.commandId,
        action: agentCommands.action,
        payload: agentCommands.payload,
        createdAt: agentCommands.createdAt,
        seq: agentCommands.seq,
      }),
  );
  // RETURNING does not keep the subquery's order; the outer SELECT restores it.
  return db
    .with(claimed)
    .select({ commandId: claimed.commandId, action: claimed.action, payload: claimed.payload })
    .from(claimed)
    .orderBy(asc(claimed.createdAt), asc(claimed.seq));
});

/**
 * Claims up to `limit` of the agent's claimable commands by marking them `sent` with an ack
 * lease, oldest first, and returns them in delivery order. SKIP LOCKED makes concurrent
 * claimers take disjoint rows, so no row is handed out twice.
 */
export async function commandClaimPending(
  db: Db,
  agentId: string,
  limit: number,
  lease: LeaseSettings,
): Promise<ClaimedCommand[]> {
  return (await claimPending(db, { agentId, limit, ...lease })).map(toClaimed);
}

function toClaimed(r: Record<string, unknown>): ClaimedCommand {
  return { commandId: String(r["command_id"]), action: String(r["action"]), payload: r["payload"] };
}

/** The columns of a delivery: `sent` now, one more attempt, and the lease its agent's platform gets. */
function markedSent(agentId: SQLWrapper | string, lease: { ackLeaseSeconds: LeaseValue; runLeaseSeconds: LeaseValue }) {
  return {
    status: "sent",
    sentAt: sql`now()`,
    updatedAt: sql`now()`,
    attempts: sql`${agentCommands.attempts} + 1`,
    leaseExpiresAt: sql`now() + make_interval(secs => ${sentLeaseSeconds(agentId, lease.ackLeaseSeconds, lease.runLeaseSeconds)})`,
    nextAttemptAt: null,
  } as const;
}

const markSent = compiled<{ commandIds: string[] } & LeaseSettings>((db, p) =>
  db
    .update(agentCommands)
    .set(markedSent(agentCommands.agentId, p))
    .where(and(sql`${agentCommands.commandId} = any(${p.commandIds})`, eq(agentCommands.status, "pending")))
    .returning({ id: agentCommands.id }),
);

/** Records commands pushed without a claim as `sent`, those that nothing moved on already. */
export async function commandMarkSent(db: Db, commandIds: string[], lease: LeaseSettings): Promise<number> {
  if (commandIds.length === 0) return 0;
  return (await markSent(db, { commandIds, ...lease })).length;
}

const release = compiled<{ commandIds: string[] }>((db, p) =>
  db
    .update(agentCommands)
    .set({
      status: "pending",
      sentAt: null,
      leaseExpiresAt: null,
      updatedAt: sql`now()`,
      // It never left: this delivery does not count.
      attempts: sql`greatest(${agentCommands.attempts} - 1, 0)`,
    })
    .where(and(sql`${agentCommands.commandId} = any(${p.commandIds})`, eq(agentCommands.status, "sent"))),
);

/** Puts claimed commands back to `pending` when the socket went away before they were sent. */
export async function commandRelease(db: Db, commandIds: string[]): Promise<void> {
  if (commandIds.length === 0) return;
  await release(db, { commandIds });
}

/**
 * The agent's first unfinished command (the first in-flight one to have gone out, see
 * inSentOrder), if it was already delivered `max_attempts` times, stays `sent` and is not sent
 * again: an agent that dies on a command before acking it, and reconnects, would otherwise be
 * handed it on every reconnect until its deadline (24 h for a stop; never, for a row inserted by
 * hand). Its lease runs on, and the sweep fails it when it runs out (commandExpireLeases), unless
 * an answer comes. Only the first: the agent runs commands in the order it gets them, so the ones
 * behind it were waiting their turn, and every reconnect counted a delivery.
 */
function requeueUnacked(db: Pick<Db, "update">, agentId: SQLWrapper) {
  const earlierInFlight = sql`exists (select 1 from ${agentCommands} earlier where earlier.agent_id = ${agentCommands.agentId}
    and earlier.status in ('sent', 'ack') and ${sentPlace(sql`earlier`)} < ${sentPlace(sql`${agentCommands}`)})`;
  return db
    .update(agentCommands)
    .set({ status: "pending", leaseExpiresAt: null, updatedAt: sql`now()` })
    .where(
      and(
        eq(agentCommands.agentId, agentId),
        eq(agentCommands.status, "sent"),
        or(sql`${agentCommands.attempts} < ${agentCommands.maxAttempts}`, earlierInFlight),
      ),
    );
}

const requeue = compiled<{ agentId: string }>((db, p) => requeueUnacked(db, p.agentId));

const requeueAndMarkOnline = compiled<{ agentId: string }>((db, p) => {
  const online = db.$with("online").as(
    db
      .update(agents)
      .set({ status: "online", lastHeartbeat: sql`now()`, updatedAt: sql`now()` })
      .where(eq(agents.agentId, p.agentId))
      .returning({ id: agents.id }),
  );
  return requeueUnacked(db.with(online), p.agentId);
});

/**
 * A new socket's connect work and its first claim, as one transaction in one round trip:
 * commands `sent` on earlier sockets and never acknowledged go back to `pending` (they may have
 * been lost; with `markOnline` the agent is marked online too, as agentMarkOnline does), then
 * the claim takes them with the rest, oldest first (commandClaimPending).
 */
export async function commandRequeueAndClaim(
  db: Db,
  agentId: string,
  opts: { markOnline: boolean },
  limit: number,
  lease: LeaseSettings,
): Promise<ClaimedCommand[]> {
  const [, claimed] = await inOneTransaction(db, [
    (opts.markOnline ? requeueAndMarkOnline : requeue).bind(db, { agentId }),
    claimPending.bind(db, { agentId, limit, ...lease }),
  ]);
  return claimed!.map(toClaimed);
}

const ack = compiled<{ agentId: string; commandId: string; runLeaseSeconds: number }>((db, p) =>
  db
    .update(agentCommands)
    .set({
      status: "ack",
      acknowledgedAt: sql`now()`,
      updatedAt: sql`now()`,
      // A pushed command can be acknowledged before it is recorded as sent: count that delivery.
      sentAt: sql`coalesce(${agentCommands.sentAt}, now())`,
      attempts: sql`greatest(${agentCommands.attempts}, 1)`,
      leaseExpiresAt: sql`now() + make_interval(secs => ${p.runLeaseSeconds})`,
    })
    .where(
      and(
        eq(agentCommands.commandId, p.commandId),
        eq(agentCommands.agentId, p.agentId),
        inArray(agentCommands.status, ["pending", "sent"]),
      ),
    )
    .returning({ id: agentCommands.id }),
);

/** `ack` from the owning agent: the lease becomes the (longer) run lease. Never moves back. */
export async function commandAck(db: Db, agentId: string, commandId: string, runLeaseSeconds: number): Promise<boolean> {
  return (await ack(db, { agentId, commandId, runLeaseSeconds })).length > 0;
}

/**
 * The oldest command of `sessionId` sent to `agentId` and not finished, of one of `actions` when
 * given (docker-agent replies, which name the session and not the command). With `actions` (a
 * success, which says what it reached), failing that the oldest still `pending` of those: one
 * pushed whose `sent` record failed and was forgotten (the object hibernated, the socket was
 * replaced), or one put back after its lease ran out whose late answer this is. Matched to
 * nothing, the reply was dropped and the start sent again, which docker-agent fails (the
 * container's name is taken).
 */
export async function commandInFlightForSession(
  db: Queryable,
  agentId: string,
  sessionId: string,
  actions?: readonly string[],
): Promise<CommandRow | undefined> {
  const statuses = actions ? ["sent", "ack", "pending"] : ["sent", "ack"];
  const [row] = await db
    .select()
    .from(agentCommands)
    .where(
      and(
        eq(agentCommands.agentId, agentId),
        eq(agentCommands.sessionId, sessionId),
        inArray(agentCommands.status, statuses),
        actions ? inArray(agentCommands.action, [...actions]) : undefined,
      ),
    )
    .orderBy(sql`${agentCommands.status} = 'pending'`, asc(agentCommands.createdAt), asc(agentCommands.seq))
    .limit(1);
  return row;
}

/**
 * The id of the newest command of `sessionId` for `agentId` if it is an `action` that ended
 * unanswered here (expired, cancelled, failed): a docker-agent reply reporting the state it
 * reaches answers it late. Only the newest: a reply matched to an older one, with the session's
 * later commands finished, would undo what they did. A row whose `created_at` an update set NULL
 * counts as the oldest, as in commandList.
 */
export async function commandLastOfSessionIfEnded(
  db: Queryable,
  agentId: string,
  sessionId: string,
  action: string,
): Promise<string | undefined> {
  const [row] = await db
    .select({ commandId: agentCommands.commandId, action: agentCommands.action, status: agentCommands.status })
    .from(agentCommands)
    .where(and(eq(agentCommands.agentId, agentId), eq(agentCommands.sessionId, sessionId)))
    .orderBy(sql`${agentCommands.createdAt} desc nulls last`, desc(agentCommands.seq))
    .limit(1);
  return row && row.action === action && ENDED_HERE.includes(row.status ?? "") ? row.commandId : undefined;
}

/** Statuses a command ends in without the agent's answer. */
const ENDED_HERE = ["expired", "cancelled", "failed"];

/**
 * Operator cancel: any unfinished command ends `cancelled`; undefined if it was already finished.
 * Returns the lease the cancel ends too, read under the row's lock: an ack committed while the
 * cancel waited for it has moved the lease, and a read from before would miss that. Run it in a
 * transaction, so the lock holds until the update.
 */
export async function commandCancel(db: Queryable, commandId: string): Promise<CancelledCommand | undefined> {
  const open = and(eq(agentCommands.commandId, commandId), inArray(agentCommands.status, OPEN_STATUSES));
  const [locked] = await db.select({ leaseBefore: agentCommands.leaseExpiresAt }).from(agentCommands).where(open).for("update");
  if (!locked) return undefined;
  const [row] = await db
    .update(agentCommands)
    .set({
      status: "cancelled",
      errorMessage: "cancelled by an administrator",
      updatedAt: sql`now()`,
      leaseExpiresAt: null,
      nextAttemptAt: null,
    })
    .where(open)
    .returning();
  return row && { ...row, leaseBefore: locked.leaseBefore };
}

export type CancelledCommand = CommandRow & { leaseBefore: Date | null };

/**
 * After `cancelled` left its agent's queue: the first of the agent's in-flight commands in the
 * order they went out (see inSentOrder), if it is `sent` and went out after the cancelled one
 * (created after it, if the cancelled one has no record of its sending),
 * has just reached the head, and its lease starts over, as finish_agent_command's relet does for
 * a command the agent finished (migrations 0005, 0023). Sent in the same batch, its lease would
 * otherwise have run since the batch went out, and the sweep would send it again while the agent
 * still works on the command ahead of it. That work goes on after a cancel (nothing tells the
 * agent to stop it), so the new lease starts when the cancelled command's would have ended:
 * otherwise a cancelled start the agent runs for minutes gets the command behind it sent again
 * every minute until its attempts run out.
 */
export async function commandReletAfter(db: Queryable, cancelled: CancelledCommand, lease: LeaseSettings): Promise<void> {
  if (!cancelled.agentId) return;
  const head = db
    .select({ id: agentCommands.id })
    .from(agentCommands)
    .where(and(eq(agentCommands.agentId, cancelled.agentId), commandStatusIs.inFlight(agentCommands.status)))
    .orderBy(...inSentOrder)
    .limit(1);
  await db
    .update(agentCommands)
    .set({
      leaseExpiresAt: sql`greatest(now(), ${cancelled.leaseBefore}::timestamptz) +
        make_interval(secs => ${sentLeaseSeconds(cancelled.agentId, lease.ackLeaseSeconds, lease.runLeaseSeconds)})`,
    })
    .where(
      and(
        eq(agentCommands.id, head),
        eq(agentCommands.status, "sent"),
        // A cancelled command never recorded sent (still pending: queued, or pushed and unrecorded)
        // is placed by creation, as pushes go out; finish_agent_command does the same (0023).
        sql`(select case when cancelled.sent_at is null
          then (${agentCommands.createdAt}, ${agentCommands.seq}) > (cancelled.created_at, cancelled.seq)
          else ${sentPlace(sql`${agentCommands}`)} > ${sentPlace(sql`cancelled`)} end
          from ${agentCommands} cancelled where cancelled.id = ${cancelled.id})`,
      ),
    );
}

/**
 * An agent's in-flight commands in the order they went out, which is the order it runs them in:
 * by sent_at, a claim's batch (one sent_at) in creation order, a row never recorded first
 * (idx_agent_commands_in_flight_sent's order). sent_at is when the `sent` record was written: for
 * a push, up to 0.5 s after it went out (RECORD_DELAY_MS), or at the next claim when that record
 * failed; pushes go out in creation order, so that is off only for a push whose record failed
 * and an older command re-queued meanwhile, recorded in one claim (the older one then counts as
 * first).
 */
const inSentOrder = [sql`${agentCommands.sentAt} asc nulls first`, asc(agentCommands.createdAt), asc(agentCommands.seq)];

/** A command's place in that order, as a row value of the table or alias `rows` (for comparisons). */
function sentPlace(rows: SQL): SQL {
  return sql`(coalesce(${rows}.sent_at, '-infinity'), ${rows}.created_at, ${rows}.seq)`;
}

/**
 * Operator retry of a failed or expired command: pending again, attempts from zero, new deadline,
 * and at the back of its agent's queue, as a new command would be. Kept in its old place, it
 * would go out behind what the agent runs now yet be judged as the agent's head, and sent again
 * every ack lease while the agent was busy with newer work.
 */
export async function commandRetry(
  db: Queryable,
  commandId: string,
  expiresAt: Date | null,
): Promise<CommandRow | undefined> {
  const [row] = await db
    .update(agentCommands)
    .set({
      status: "pending",
      errorMessage: null,
      attempts: 0,
      sentAt: null,
      acknowledgedAt: null,
      completedAt: null,
      leaseExpiresAt: null,
      nextAttemptAt: null,
      expiresAt,
      createdAt: sql`clock_timestamp()`,
      updatedAt: sql`now()`,
    })
    .where(and(eq(agentCommands.commandId, commandId), inArray(agentCommands.status, [...RETRYABLE_STATUSES])))
    .returning();
  return row;
}

/**
 * Agents that are online (or draining: kept out of new sessions, not out of the commands of the
 * ones they run) and have a claimable command that the fast path will not deliver on its own:
 * older than `graceSeconds`, or due again after a backoff. The sweep's delivery list, at most
 * `limit` of them, drawn at random when there are more: in the order a plan happened to return
 * them, the same first ones came back every run, and agents whose object cannot deliver (online
 * by HTTP heartbeats, with no socket) could fill the list every minute and starve the rest.
 */
export async function commandAgentsWithPending(db: Queryable, graceSeconds: number, limit: number): Promise<string[]> {
  const waiting = db
    .selectDistinct({ agentId: agentCommands.agentId })
    .from(agentCommands)
    .innerJoin(agents, eq(agents.agentId, agentCommands.agentId))
    .where(
      and(
        claimable,
        or(
          sql`${agentCommands.createdAt} <= now() - make_interval(secs => ${graceSeconds})`,
          sql`${agentCommands.nextAttemptAt} is not null`,
        ),
        inArray(agents.status, ["online", "draining"]),
      ),
    )
    .as("waiting");
  const rows = await db.select({ agentId: waiting.agentId }).from(waiting).orderBy(sql`random()`).limit(limit);
  return rows.flatMap((r) => (r.agentId ? [r.agentId] : []));
}

export type LeaseOutcome = Pick<CommandRow, "commandId" | "agentId" | "sessionId" | "action" | "status" | "attempts">;

/** What the sweep needs back from a status change it made: enough to follow up on the session. */
const OUTCOME_COLUMNS = {
  commandId: agentCommands.commandId,
  agentId: agentCommands.agentId,
  sessionId: agentCommands.sessionId,
  action: agentCommands.action,
  status: agentCommands.status,
  attempts: agentCommands.attempts,
};

/**
 * Expired leases: the command goes back to `pending` behind an exponential backoff with jitter
 * (5 s · 2^(attempts−1), at most 5 min), or, after `max_attempts` deliveries, ends `failed`.
 * Only the command an agent runs now is judged, its in-flight command that went out first (a
 * batch's in creation order; one with no record of its sending counts as first): agents run
 * commands one at a time, in the order they get them, so the ones queued behind it are
 * legitimately unanswered (their lease restarts when they reach the head, see
 * commandFinishByAgent). Not the oldest by creation: one sent again after a newer one went out
 * (re-queued meanwhile, or committed after it) waits behind that one at the agent.
 */
export async function commandExpireLeases(db: Queryable, limit: number): Promise<LeaseOutcome[]> {
  const inFlight = commandStatusIs.inFlight; // idx_agent_commands_in_flight_sent's predicate
  // Each agent's head, one probe of idx_agent_commands_in_flight_sent per agent (a skip scan): the
  // queues behind the heads, however long, are not read (migrations 0019 and 0022). The due ones, oldest
  // lease first, are collected into an array, so that no plan reads rows to test them against
  // the heads. The heads and the rows locked come from the statement's one snapshot; a head acked
  // or relet meanwhile is skipped by the lease check on its newest version.
  const headsDue = sql`array(with recursive head as (
      (select agent_id, id, lease_expires_at from ${agentCommands} lowest
        where ${inFlight(sql`lowest.status`)} and lowest.agent_id is not null order by agent_id, sent_at nulls first, created_at, seq limit 1)
      union all
      select next.* from head cross join lateral (select c.agent_id, c.id, c.lease_expires_at from ${agentCommands} c
        where ${inFlight(sql`c.status`)} and c.agent_id > head.agent_id order by c.agent_id, c.sent_at nulls first, c.created_at, c.seq limit 1) next)
    select id from (
      select id, lease_expires_at from head where lease_expires_at < now()
      union all
      select id, lease_expires_at from ${agentCommands} orphan
        where ${inFlight(sql`orphan.status`)} and orphan.agent_id is null and orphan.lease_expires_at < now()
    ) due order by lease_expires_at)`;
  // Then locked one at a time by primary key, in that order, up to `limit` of those not locked
  // elsewhere. The status check is wrapped so that it cannot match the in-flight index: a
  // planner whose statistics saw that index empty (an ANALYZE while little was in flight) chose
  // it over the primary key and read all of it for every head (1.1 s for 500 heads).
  const expired = sql`select c.id from unnest(${headsDue}) due(id) cross join lateral (
      select id from ${agentCommands} c
      where c.id = due.id and coalesce(${inFlight(sql`c.status`)}, false) and c.lease_expires_at < now()
      for update skip locked) c
    limit ${limit}`;
  const exhausted = sql`${agentCommands.attempts} >= ${agentCommands.maxAttempts}`;
  return db
    .update(agentCommands)
    .set({
      status: sql`case when ${exhausted} then 'failed' else 'pending' end`,
      errorMessage: sql`case when ${exhausted} then 'no result after ' || ${agentCommands.attempts} ||
        ' deliveries (last lease expired while ' || ${agentCommands.status} || ')' else ${agentCommands.errorMessage} end`,
      nextAttemptAt: sql`case when ${exhausted} then null else now() + make_interval(secs =>
        least(300, 5 * power(2, greatest(${agentCommands.attempts} - 1, 0))) * (0.5 + random() / 2)) end`,
      leaseExpiresAt: null,
      updatedAt: sql`now()`,
    })
    .where(sql`${agentCommands.id} in (${expired})`)
    .returning(OUTCOME_COLUMNS);
}

/** Pending commands past their deadline end `expired`, never sent. */
export async function commandExpireDeadlines(db: Queryable, limit: number): Promise<LeaseOutcome[]> {
  const due = db
    .select({ id: agentCommands.id })
    .from(agentCommands)
    .where(and(commandStatusIs.pending(agentCommands.status), sql`${agentCommands.expiresAt} <= now()`)) // idx_agent_commands_deadline
    .limit(limit)
    .for("update", { skipLocked: true });
  return db
    .update(agentCommands)
    .set({
      status: "expired",
      // One re-queued after its lease ran out was delivered, but never answered.
      errorMessage: sql`case when ${agentCommands.attempts} = 0 then 'deadline passed before the command could be delivered'
        else 'deadline passed with no answer after ' || ${agentCommands.attempts} || ' deliveries' end`,
      nextAttemptAt: null,
      updatedAt: sql`now()`,
    })
    .where(inArray(agentCommands.id, due))
    .returning(OUTCOME_COLUMNS);
}

/** Deletes up to `limit` finished commands last changed more than `days` ago; returns how many. */
export async function commandDeleteFinished(db: Queryable, days: number, limit: number): Promise<number> {
  const old = db
    .select({ id: agentCommands.id })
    .from(agentCommands)
    .where(
      and(
        commandStatusIs.finished(agentCommands.status), // idx_agent_commands_finished's predicate
        sql`${agentCommands.updatedAt} < now() - make_interval(days => ${days})`,
      ),
    )
    .limit(limit)
    .for("update", { skipLocked: true });
  const rows = await db.delete(agentCommands).where(inArray(agentCommands.id, old)).returning({ id: agentCommands.id });
  return rows.length;
}

/**
 * How many `action` commands the session has had (e.g. whether a stop was retried already), or,
 * with `openOnly`, has unfinished now; with `sinceSessionMoved`, only those created since the
 * session last changed.
 */
export async function commandCountForSession(
  db: Queryable,
  sessionId: string,
  action: string,
  opts: { openOnly?: boolean; sinceSessionMoved?: boolean } = {},
): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(agentCommands)
    .where(
      and(
        eq(agentCommands.sessionId, sessionId),
        eq(agentCommands.action, action),
        opts.openOnly ? inArray(agentCommands.status, OPEN_STATUSES) : undefined,
        // Created with or after the session's last change (a user's action writes both at once).
        opts.sinceSessionMoved ? sql`${agentCommands.createdAt} >= (select ${sessions.updatedAt} from ${sessions} where ${sessions.id} = ${sessionId})` : undefined,
      ),
    );
  return row?.n ?? 0;
}
