/**
 * An agent's `complete` or `failed` as one call of finish_agent_command (migrations/0015), a
 * single statement whose plan the server caches. Apart from commands.ts because it also moves
 * the session: the one write every command ends with.
 */
import { sql } from "drizzle-orm";
import type { Db } from "../client";
import { compiled } from "../compiled";
import type { LeaseSettings } from "./commands";

/** Per action: the session states a finished command moves from, and the state it moves to. */
export type SessionMoves = Record<string, { from: readonly string[]; to: string } | undefined>;

export type AgentOutcome =
  | { status: "completed"; result: Record<string, unknown> | null }
  | { status: "failed"; error: string };

/**
 * Finishes the agent's own open command, moves its session per `moves[action]` (to `reportedState`
 * instead when given) and starts the lease of the agent's next command, now at the head of what
 * it holds (its lease no longer waits behind the finished one; a docker agent's gets the run
 * lease, as sentLeaseSeconds gives it). Atomic, so an outage cannot finish the command and leave
 * its session behind (a retried frame finds the command finished and changes nothing).
 * `finished` is false when the command was not open or not the agent's (a repeat, a late or a
 * forged frame). `stopQueued` names the stop queued because a start or wake completed for a
 * session already terminated (the agent ran it after the user's stop) or failed here
 * (migration 0015).
 */
export async function commandFinishByAgent(
  db: Db,
  agentId: string,
  commandId: string,
  outcome: AgentOutcome,
  session: { moves: SessionMoves; reportedState: string | null },
  lease: LeaseSettings,
): Promise<FinishOutcome> {
  const completed = outcome.status === "completed";
  const [row] = await finish(db, {
    agentId,
    commandId,
    status: outcome.status,
    result: completed && outcome.result !== null ? JSON.stringify(outcome.result) : null,
    error: completed ? null : outcome.error,
    moves: JSON.stringify(session.moves),
    reportedState: session.reportedState,
    ...lease,
  });
  const answer = row?.["outcome"] as { finished?: unknown; stopQueued?: unknown } | undefined;
  return {
    finished: answer?.finished === true,
    stopQueued: typeof answer?.stopQueued === "string" ? answer.stopQueued : null,
  };
}

export type FinishOutcome = { finished: boolean; stopQueued: string | null };

/**
 * Queues a stop of `sessionId` for the agent if the session is terminated or failed and no stop
 * of it is open (stop_ended_session_again, migration 0015); the new command's id, or null. For an
 * agent's report that the session runs which no open command of its explains.
 */
export async function commandStopEndedSessionAgain(db: Db, agentId: string, sessionId: string): Promise<string | null> {
  const [row] = await stopAgain(db, { agentId, sessionId });
  const id = row?.["command_id"];
  return typeof id === "string" ? id : null;
}

const stopAgain = compiled<{ agentId: string; sessionId: string }>(
  (_db, p) => sql`select stop_ended_session_again(${p.agentId}, ${p.sessionId}) as command_id`,
);

type FinishValues = {
  agentId: string;
  commandId: string;
  status: AgentOutcome["status"];
  /** JSON text. */
  result: string | null;
  error: string | null;
  /** JSON text of SessionMoves. */
  moves: string;
  reportedState: string | null;
} & LeaseSettings;

const finish = compiled<FinishValues>(
  (_db, p) => sql`select finish_agent_command(
    ${p.agentId}, ${p.commandId}, ${p.status}, ${p.result}::jsonb, ${p.error}::text,
    ${p.moves}::jsonb, ${p.reportedState}::text, ${p.ackLeaseSeconds}::float8, ${p.runLeaseSeconds}::float8) as outcome`,
);
