/**
 * Session create as one call (see sessionCreateWithCommand). Kept apart from sessions.ts
 * because it is the one query on the dispatch latency path.
 */
import { sql } from "drizzle-orm";
import type { Queryable } from "../client";
import { runOverHttp } from "../sql-over-http";
import { SELECTION_WINDOW_SECONDS } from "./agents";

/** Streaming settings for images whose name contains `imageContains` (spec §2.3). */
export type StreamingRule = { imageContains: string; protocol: string; port: number; path: string | null };
/** For any other image: this protocol, on the manifest's first containerPort or else `port`. */
export type StreamingFallback = { protocol: string; port: number };
export type Streaming = { protocol: string; port: number; path: string | null };

/** The session's columns the caller decides (the rest come from the statement or defaults). */
export type NewSessionFields = {
  id: string;
  userId: string;
  templateName: string;
  namespace: string;
  platform: string;
  memory: string;
  cpu: string;
  persistentHome: boolean;
  idleTimeout: string;
  maxSessionDuration: string;
  tags: string[] | null;
  orgId: string;
};

export type SessionCreated = {
  templateFound: boolean;
  /** The agent selected, or null when none is selectable. */
  agentId: string | null;
  /** Null when nothing was written (no template or no agent). */
  created: { createdAt: Date; streaming: Streaming; payload: unknown; olderPendingIds: string[] } | null;
};

/** The function's row, as `row_to_json` writes it. */
type CreatedRow = {
  template_found: boolean;
  agent_id: string | null;
  created_at: string | null;
  streaming_protocol: string | null;
  streaming_port: number | null;
  streaming_path: string | null;
  payload: unknown;
  older_pending_ids: string[] | null;
};

/**
 * The whole of POST /api/v1/sessions in one round trip, through the server-side function
 * create_session_with_command (migrations/0002; since 0003 it selects by the agents' load
 * counter; since 0006 it answers the agent's older pending ids): Postgres caches its statements'
 * plans, where the same work as one ad hoc statement was parsed and planned on every request
 * (~1.2 ms).
 * Without the template or an agent nothing is written, and the answer says which was missing.
 */
export async function sessionCreateWithCommand(
  db: Queryable,
  args: {
    session: NewSessionFields;
    command: { commandId: string; expiresAt: Date | null; maxAttempts: number; payload: Record<string, unknown> };
    /** Used when the template's own manifest is empty. */
    minimalManifest: Record<string, unknown>;
    streamingRules: readonly StreamingRule[];
    streamingFallback: StreamingFallback;
  },
): Promise<SessionCreated> {
  const { session: s, command: c } = args;
  const session = {
    id: s.id,
    user_id: s.userId,
    template_name: s.templateName,
    namespace: s.namespace,
    platform: s.platform,
    memory: s.memory,
    cpu: s.cpu,
    persistent_home: s.persistentHome,
    idle_timeout: s.idleTimeout,
    max_session_duration: s.maxSessionDuration,
    tags: s.tags,
    org_id: s.orgId,
  };
  const command = { command_id: c.commandId, expires_at: c.expiresAt, max_attempts: c.maxAttempts, payload: c.payload };
  const streaming = { rules: args.streamingRules, fallback: args.streamingFallback };
  // One text value (the row as JSON) reads the same from both paths below.
  const statement = sql`select row_to_json(created)::text as created from create_session_with_command(
    ${JSON.stringify(session)}::jsonb, ${JSON.stringify(command)}::jsonb, ${JSON.stringify(args.minimalManifest)}::jsonb,
    ${JSON.stringify(streaming)}::jsonb, ${SELECTION_WINDOW_SECONDS}::integer) created`;
  // A transaction (Idempotency-Key) has no HTTP path: its statements share one connection.
  const json =
    "overHttp" in db && db.overHttp
      ? (await runOverHttp(db.overHttp, statement))[0]![0]!
      : (await db.execute<{ created: string }>(statement)).rows[0]!.created;
  const row = JSON.parse(json) as CreatedRow;
  if (row.created_at === null) return { templateFound: row.template_found, agentId: row.agent_id, created: null };
  return {
    templateFound: true,
    agentId: row.agent_id,
    created: {
      createdAt: new Date(row.created_at),
      streaming: { protocol: row.streaming_protocol!, port: row.streaming_port!, path: row.streaming_path },
      payload: row.payload,
      olderPendingIds: row.older_pending_ids ?? [],
    },
  };
}
