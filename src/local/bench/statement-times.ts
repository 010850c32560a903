/**
 * How long the database took for the statements a dispatch level sends, timed where they reach
 * the local SQL-over-HTTP endpoint (see http-sql.ts): the session create's statement and the bare
 * dispatch's one-row INSERT. Their difference is the part of the create's lead over the bare
 * dispatch that Postgres accounts for; the rest is the Worker's own work.
 */
import type { LatencySummary } from "./stats";
import { summarize } from "./stats";

/** What each kind of statement starts with, as the Worker and the bare Worker send them. */
const KINDS = {
  create: "select row_to_json(created)::text as created from create_session_with_command(",
  bareInsert: "insert into bench_floor ",
} as const;

export type StatementKind = keyof typeof KINDS;

export class StatementTimes {
  #times: Record<StatementKind, number[]> = { create: [], bareInsert: [] };

  /** The proxy's observer (see startWsProxy): keeps the times of the kinds above, drops the rest. */
  readonly observe = (query: string, ms: number): void => {
    for (const kind of Object.keys(KINDS) as StatementKind[]) {
      if (query.trimStart().startsWith(KINDS[kind])) this.#times[kind].push(ms);
    }
  };

  /** The times seen since the last call, summarized, and starts afresh. */
  take(): Record<StatementKind, LatencySummary> {
    const taken = { create: summarize(this.#times.create), bareInsert: summarize(this.#times.bareInsert) };
    this.#times = { create: [], bareInsert: [] };
    return taken;
  }
}
