/**
 * The Postgres schema: the single source for migrations (`npm run db:generate`).
 *
 * Column names and types follow StreamSpace (spec §2.1–2.3) so its data and tooling carry over.
 * Deliberate differences: timestamps are `timestamptz` (the original wrote local-zone
 * `timestamp`), and a few columns delivery needs are added (`seq`, `attempts`, `result`).
 */
import { sql } from "drizzle-orm";
import type { SQL, SQLWrapper } from "drizzle-orm";
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
  varchar,
} from "drizzle-orm/pg-core";

const tz = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });
const createdUpdated = {
  createdAt: tz("created_at").default(sql`now()`),
  updatedAt: tz("updated_at").default(sql`now()`),
};

export const agents = pgTable(
  "agents",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    agentId: varchar("agent_id", { length: 255 }).notNull().unique(),
    platform: varchar("platform", { length: 50 }).notNull(),
    region: varchar("region", { length: 100 }),
    status: varchar("status", { length: 50 }).default("offline"),
    capacity: jsonb("capacity"),
    lastHeartbeat: tz("last_heartbeat"),
    websocketId: varchar("websocket_id", { length: 255 }),
    metadata: jsonb("metadata"),
    ...createdUpdated,
    clusterId: varchar("cluster_id", { length: 255 }),
    clusterName: varchar("cluster_name", { length: 255 }),
    apiKeyHash: varchar("api_key_hash", { length: 255 }),
    apiKeyCreatedAt: tz("api_key_created_at"),
    apiKeyLastUsedAt: tz("api_key_last_used_at"),
    orgId: varchar("org_id", { length: 255 }),
    approvalStatus: varchar("approval_status", { length: 20 }).default("approved"),
    approvedAt: tz("approved_at"),
    approvedBy: varchar("approved_by", { length: 255 }),
    /**
     * How many of the agent's sessions are running, hibernated or pending: its load for the
     * selection (spec §5.4). Kept exact by triggers on sessions (migrations/0003, 0004) so a create
     * reads one number per agent instead of counting every agent's sessions.
     */
    activeSessions: integer("active_sessions").notNull().default(0),
  },
  (t) => [
    index("idx_agents_status").on(t.status),
    index("idx_agents_platform_status").on(t.platform, t.status),
    index("idx_agents_last_heartbeat").on(t.lastHeartbeat),
    index("idx_agents_approval_status").on(t.approvalStatus),
    // The selection (migrations/0003): the first online agent of the platform by load, then
    // by the latest heartbeat, whose heartbeat is inside the window.
    index("idx_agents_selection")
      .on(t.platform, t.activeSessions, t.lastHeartbeat.desc())
      .where(sql`${t.status} = 'online'`),
  ],
);

/**
 * The predicates of agent_commands' partial indexes, shared by the indexes and the sweep queries
 * that use them so the two cannot drift apart. Written as literals, not parameters: any plan,
 * generic or not, can then match a query to its index.
 */
export const commandStatusIs = {
  pending: (status: SQLWrapper) => sql`${status} = 'pending'`,
  inFlight: (status: SQLWrapper) => sql`${status} in ('sent', 'ack')`,
  finished: (status: SQLWrapper) => sql`${status} in ('completed', 'failed', 'expired', 'cancelled')`,
};

export const agentCommands = pgTable(
  "agent_commands",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    /** Insertion order: the per-agent FIFO tie-breaker when `created_at` values are equal. */
    seq: bigint("seq", { mode: "number" }).generatedAlwaysAsIdentity(),
    commandId: varchar("command_id", { length: 255 }).notNull().unique(),
    agentId: varchar("agent_id", { length: 255 }).references(() => agents.agentId, {
      onDelete: "cascade",
    }),
    sessionId: varchar("session_id", { length: 255 }),
    action: varchar("action", { length: 50 }).notNull(),
    payload: jsonb("payload"),
    status: varchar("status", { length: 50 }).default("pending"),
    errorMessage: text("error_message"),
    result: jsonb("result"),
    /** Deliveries so far; each claim counts one. */
    attempts: integer("attempts").notNull().default(0),
    /** After this many deliveries without an answer the command ends `failed`. */
    maxAttempts: integer("max_attempts").notNull().default(5),
    /** `sent`: answer (ack) due by then; `ack`: result due by then. Past it, the sweep re-delivers. */
    leaseExpiresAt: tz("lease_expires_at"),
    /** Re-delivery backoff: a pending command is not claimed before this time. */
    nextAttemptAt: tz("next_attempt_at"),
    /** Deadline: a command still pending at this time is never sent and ends `expired`. */
    expiresAt: tz("expires_at"),
    /**
     * When the row was inserted (not when its transaction began, which now() gives): a command
     * whose transaction waited on a lock behind another's (a DELETE behind a hibernate of the same
     * session) is ordered after it, as it was inserted (migration 0012).
     */
    createdAt: tz("created_at").default(sql`clock_timestamp()`),
    sentAt: tz("sent_at"),
    acknowledgedAt: tz("acknowledged_at"),
    completedAt: tz("completed_at"),
    updatedAt: tz("updated_at").default(sql`now()`),
  },
  (t) => [
    index("idx_agent_commands_agent_status").on(t.agentId, t.status, t.createdAt, t.seq),
    index("idx_agent_commands_session_id").on(t.sessionId),
    index("idx_agent_commands_status_created").on(t.status, t.createdAt),
    // Partial: each holds only the rows its sweep query looks for (commandExpireLeases,
    // commandExpireDeadlines), so finished commands, nearly all rows under retention, are in
    // neither, and a command's status changes write fewer index entries (migration 0008).
    // In-flight commands by agent, in the order they went out (a claim's batch shares a sent_at
    // and goes out in creation order; a row never recorded first): the first entry of each agent
    // is the command it runs now, the only one whose lease the sweep judges, and the one after an
    // answered command is the one the agent starts next, whose lease the answer restarts. The
    // lease scan walks one entry per agent, not the queues behind them (migration 0019, which
    // replaced an index on the lease). In creation order (0019's index, until migrations 0022 and
    // 0023), an older command sent after a newer one was judged while it waited behind it.
    index("idx_agent_commands_in_flight_sent")
      .on(t.agentId, t.sentAt.asc().nullsFirst(), t.createdAt, t.seq)
      .where(commandStatusIs.inFlight(t.status)),
    index("idx_agent_commands_deadline").on(t.expiresAt).where(commandStatusIs.pending(t.status)),
    // The retention delete's (commandDeleteFinished): without it every sweep read the whole table
    // to find nothing old enough (migration 0009).
    index("idx_agent_commands_finished").on(t.updatedAt).where(commandStatusIs.finished(t.status)),
    // The claim's check for an older command in a re-delivery backoff (claimable in commands.ts):
    // rows in a backoff are few, so each candidate's check is one probe of a near-empty index.
    index("idx_agent_commands_backoff")
      .on(t.agentId, t.createdAt, t.seq)
      .where(sql`${t.status} = 'pending' and ${t.nextAttemptAt} is not null`),
  ],
);

/** The session list's order key (sessionList's ORDER BY, which must match it to use the indexes). */
export function listOrder(createdAt: SQLWrapper): SQL {
  return sql`coalesce(${createdAt}, '-infinity'::timestamptz)`;
}

export const sessions = pgTable(
  "sessions",
  {
    id: varchar("id", { length: 255 }).primaryKey(),
    userId: varchar("user_id", { length: 255 }),
    teamId: varchar("team_id", { length: 255 }),
    templateName: varchar("template_name", { length: 255 }),
    state: varchar("state", { length: 50 }),
    appType: varchar("app_type", { length: 50 }).default("desktop"),
    activeConnections: integer("active_connections").default(0),
    url: text("url"),
    namespace: varchar("namespace", { length: 255 }).default("streamspace"),
    ...createdUpdated,
    lastConnection: tz("last_connection"),
    lastDisconnect: tz("last_disconnect"),
    // Unused here; kept so that a StreamSpace database imports and its tools' queries run (checklist 51).
    snapshotConfig: jsonb("snapshot_config").default(sql`'{}'::jsonb`),
    platform: varchar("platform", { length: 50 }).default("kubernetes"),
    controllerId: varchar("controller_id", { length: 255 }),
    podName: varchar("pod_name", { length: 255 }),
    memory: varchar("memory", { length: 50 }),
    cpu: varchar("cpu", { length: 50 }),
    persistentHome: boolean("persistent_home").default(false),
    idleTimeout: varchar("idle_timeout", { length: 50 }),
    maxSessionDuration: varchar("max_session_duration", { length: 50 }),
    lastActivity: tz("last_activity"),
    // ON DELETE SET NULL as in the original's migration file 002 (the inline schema had none).
    agentId: varchar("agent_id", { length: 255 }).references(() => agents.agentId, {
      onDelete: "set null",
    }),
    platformMetadata: jsonb("platform_metadata"),
    clusterId: varchar("cluster_id", { length: 255 }),
    tags: text("tags").array(),
    orgId: varchar("org_id", { length: 255 }),
    streamingProtocol: varchar("streaming_protocol", { length: 50 }).default("vnc"),
    streamingPort: integer("streaming_port").default(5900),
    streamingPath: varchar("streaming_path", { length: 255 }),
    terminationReason: varchar("termination_reason", { length: 255 }),
    terminatedAt: tz("terminated_at"),
  },
  (t) => [
    // The lists' order (sessionList), for each of its filters: a page is read off an index,
    // newest first, instead of sorting all of a user's sessions, or every session for an
    // administrator, or every session in a state (migrations 0020 and 0021). The sweep's scans of
    // `pending` and `terminating` sessions use the state's one too.
    index("idx_sessions_user_created").on(t.userId, listOrder(t.createdAt), t.id),
    index("idx_sessions_user_state").on(t.userId, t.state, listOrder(t.createdAt), t.id),
    index("idx_sessions_created").on(listOrder(t.createdAt), t.id),
    index("idx_sessions_state_created").on(t.state, listOrder(t.createdAt), t.id),
    index("idx_sessions_agent_state").on(t.agentId, t.state),
  ],
);

/** Session templates by name; `manifest` is sent to agents as `templateManifest`. */
export const templates = pgTable("templates", {
  name: varchar("name", { length: 255 }).primaryKey(),
  manifest: jsonb("manifest").notNull().default(sql`'{}'::jsonb`),
  ...createdUpdated,
});

/**
 * Answers already given to requests that carried an `Idempotency-Key`: a repeat gets the stored
 * answer and creates nothing. Written in the same transaction as what the request created.
 */
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    /** Who and what: `<user>:<METHOD> <route>`. */
    scope: text("scope").notNull(),
    key: varchar("key", { length: 255 }).notNull(),
    /** SHA-256 of the request body: the same key with a different body is refused. */
    requestHash: varchar("request_hash", { length: 64 }).notNull(),
    statusCode: integer("status_code").notNull(),
    response: jsonb("response").notNull(),
    createdAt: tz("created_at").notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.scope, t.key] }), index("idx_idempotency_keys_created").on(t.createdAt)],
);

export type AgentRow = typeof agents.$inferSelect;
export type CommandRow = typeof agentCommands.$inferSelect;
export type SessionRow = typeof sessions.$inferSelect;
export type TemplateRow = typeof templates.$inferSelect;
