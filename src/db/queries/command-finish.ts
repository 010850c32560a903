/**
 * An agent's `complete` or `failed` as one statement (see commandFinishByAgent). Apart from
 * commands.ts because it also moves the session: the one write every command ends with.
 */
import { sql } from "drizzle-orm";
import type { Queryable } from "../client";
import { agentCommands, sessions } from "../schema";
import { sentLeaseSeconds } from "./commands";
import type { LeaseSettings } from "./commands";

/** Per action: the session states a finished command moves from, and the state it moves to. */
export type SessionMoves = Record<string, { from: readonly string[]; to: string } | undefined>;

export type AgentOutcome =
  | { status: "completed"; result: Record<string, unknown> | null }
  | { status: "failed"; error: string };

/**
 * Finishes the agent's own open command, moves its session per `moves[action]` (to `reportedState`
 * instead when given) and starts the lease of the agent's next command, now at the head of what
 * it holds (its lease no longer waits behind the finished one). Atomic, so an outage cannot finish the command
 * and leave its session behind (a retried frame finds the command finished and changes nothing).
 * False when the command was not open or not the agent's (a repeat, a late or a forged frame).
 */
export async function commandFinishByAgent(
  db: Queryable,
  agentId: string,
  commandId: string,
  outcome: AgentOutcome,
  session: { moves: SessionMoves; reportedState: string | null },
  lease: LeaseSettings,
): Promise<boolean> {
  const completed = outcome.status === "completed";
  const result = await db.execute<{ finished: number }>(sql`
    with done as (
      update ${agentCommands} set
        status = ${outcome.status},
        completed_at = ${completed ? sql`now()` : sql`completed_at`},
        result = ${completed ? (outcome.result === null ? sql`null` : sql`${JSON.stringify(outcome.result)}::jsonb`) : sql`result`},
        error_message = ${completed ? sql`error_message` : outcome.error},
        updated_at = now(), lease_expires_at = null, next_attempt_at = null
      where command_id = ${commandId} and agent_id = ${agentId} and status in ('pending', 'sent', 'ack')
      returning id, session_id, action
    ),
    move as (
      select done.session_id, m.move->'from' as from_states, coalesce(${session.reportedState}::text, m.move->>'to') as to_state
      from done cross join lateral (select ${JSON.stringify(session.moves)}::jsonb -> done.action as move) m
      where m.move is not null and done.session_id is not null
    ),
    moved as (
      update ${sessions} s set state = move.to_state, updated_at = now(),
        terminated_at = case when move.to_state = 'terminated' then now() else s.terminated_at end
      from move
      where s.id = move.session_id and s.agent_id = ${agentId}
        and s.state in (select jsonb_array_elements_text(move.from_states))
      returning s.id
    ),
    head as (
      select c.id, c.status from ${agentCommands} c
      where c.agent_id = ${agentId} and c.status in ('sent', 'ack') and c.id not in (select id from done)
      order by c.created_at, c.seq limit 1
    ),
    relet as (
      update ${agentCommands} c
      set lease_expires_at = now() + make_interval(secs => ${sentLeaseSeconds(agentId, lease.ackLeaseSeconds, lease.runLeaseSeconds)})
      where c.id = (select id from head where status = 'sent') and exists (select 1 from done)
      returning c.id
    )
    select (select count(*) from done)::int as finished`);
  return (result.rows[0]?.finished ?? 0) > 0;
}
