/**
 * Session create as a single statement (see sessionCreateWithCommand). Kept apart from
 * sessions.ts because it is the one query on the dispatch latency path.
 */
import { sql } from "drizzle-orm";
import type { SQL } from "drizzle-orm";
import type { Queryable } from "../client";
import { templates } from "../schema";
import { agentLeastLoadedQuery } from "./agents";
import { olderPendingColumn } from "./commands";

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
  created: { createdAt: Date; streaming: Streaming; payload: unknown; olderPending: boolean } | null;
};

type CreatedRow = {
  template_found: boolean;
  agent_id: string | null;
  created_at: string | Date | null;
  streaming_protocol: string | null;
  streaming_port: number | null;
  streaming_path: string | null;
  payload: unknown;
  older_pending: boolean | null;
};

/**
 * The whole of POST /api/v1/sessions in one statement, so a create costs one round trip: the
 * template's manifest (the minimal one when it is empty), the least-loaded agent (spec §5.4),
 * the session row with the streaming settings its manifest implies, and its `start_session`
 * command carrying that manifest. Without the template or an agent nothing is written, and the
 * answer says which was missing.
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
  const tags = s.tags === null ? null : JSON.stringify(s.tags);
  const result = await db.execute<CreatedRow>(sql`
    with tpl as (
      select case when jsonb_typeof(manifest) = 'object' and manifest <> '{}'::jsonb
                  then manifest else ${JSON.stringify(args.minimalManifest)}::jsonb end as manifest
      from ${templates} where ${templates.name} = ${s.templateName}
    ),
    pick as (${agentLeastLoadedQuery(db, s.platform)}),
    new_session as (
      insert into sessions (id, user_id, template_name, state, app_type, namespace, platform, memory, cpu,
        persistent_home, idle_timeout, max_session_duration, agent_id, tags, org_id,
        streaming_protocol, streaming_port, streaming_path)
      select ${s.id}, ${s.userId}, ${s.templateName}, 'pending', '', ${s.namespace}, ${s.platform}, ${s.memory}, ${s.cpu},
        ${s.persistentHome}, ${s.idleTimeout}, ${s.maxSessionDuration}, pick.agent_id,
        case when ${tags}::jsonb is null then null else array(select jsonb_array_elements_text(${tags}::jsonb)) end,
        ${s.orgId}, st.protocol, st.port, st.path
      from tpl cross join pick cross join lateral (${streamingOf(sql`tpl.manifest`, args.streamingRules, args.streamingFallback)}) st
      returning agent_id, created_at, streaming_protocol, streaming_port, streaming_path
    ),
    new_command as (
      insert into agent_commands (command_id, agent_id, session_id, action, status, expires_at, max_attempts, payload)
      select ${c.commandId}, new_session.agent_id, ${s.id}, 'start_session', 'pending', ${c.expiresAt}, ${c.maxAttempts},
        ${JSON.stringify(c.payload)}::jsonb || jsonb_build_object('templateManifest', tpl.manifest)
      from new_session cross join tpl
      returning payload, ${olderPendingColumn} as older_pending
    )
    select exists (select 1 from tpl) as template_found, (select agent_id from pick) as agent_id,
      ns.created_at, ns.streaming_protocol, ns.streaming_port, ns.streaming_path, nc.payload, nc.older_pending
    from (select 1) one left join new_session ns on true left join new_command nc on true`);
  const row = result.rows[0]!;
  if (row.created_at === null) return { templateFound: row.template_found, agentId: row.agent_id, created: null };
  return {
    templateFound: true,
    agentId: row.agent_id,
    created: {
      createdAt: new Date(row.created_at),
      streaming: { protocol: row.streaming_protocol!, port: row.streaming_port!, path: row.streaming_path },
      payload: row.payload,
      olderPending: row.older_pending!,
    },
  };
}

/**
 * A one-row query of the streaming (protocol, port, path) for `manifest`: the first rule whose
 * text the base image contains, else the first port's containerPort over vnc, else the fallback.
 */
function streamingOf(manifest: SQL, rules: readonly StreamingRule[], fallback: StreamingFallback): SQL {
  const image = sql`(case when jsonb_typeof(${manifest}->'spec'->'baseImage') = 'string' then ${manifest}->'spec'->>'baseImage' else '' end)`;
  const firstPort = sql`(case when jsonb_typeof(${manifest}->'spec'->'ports'->0->'containerPort') = 'number'
    then (${manifest}->'spec'->'ports'->0->>'containerPort')::numeric::int end)`;
  const branch = (pick: (r: StreamingRule) => SQL, otherwise: SQL) =>
    sql`case ${sql.join(rules.map((r) => sql`when strpos(${image}, ${r.imageContains}) > 0 then ${pick(r)}`), sql` `)} else ${otherwise} end`;
  return sql`select ${branch((r) => sql`${r.protocol}::text`, sql`${fallback.protocol}::text`)} as protocol,
    ${branch((r) => sql`${r.port}::int`, sql`coalesce(${firstPort}, ${fallback.port}::int)`)} as port,
    ${branch((r) => sql`${r.path}::text`, sql`null::text`)} as path`;
}
