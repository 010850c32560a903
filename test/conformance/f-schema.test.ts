/**
 * Checklist F51 (spec §2.1–2.3): every column of the original's three tables, with its type,
 * NULL-ability and default, so a StreamSpace database's rows and its tools' queries fit. Added
 * columns are allowed; the deviations are the README's (timestamps are timestamptz; no users,
 * groups or organizations tables, so no foreign keys to them).
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { query } from "../helpers/db";

const TS = "timestamptz";
const NOW = `${TS} default now()`;

/** Each column as `type[ not null][ default …]`, transcribed from the spec's tables. */
const SPEC: Record<string, Record<string, string>> = {
  agents: {
    id: "uuid not null default gen_random_uuid()",
    agent_id: "varchar(255) not null",
    platform: "varchar(50) not null",
    region: "varchar(100)",
    status: "varchar(50) default 'offline'",
    capacity: "jsonb",
    last_heartbeat: TS,
    websocket_id: "varchar(255)",
    metadata: "jsonb",
    created_at: NOW,
    updated_at: NOW,
    cluster_id: "varchar(255)",
    cluster_name: "varchar(255)",
    api_key_hash: "varchar(255)",
    api_key_created_at: TS,
    api_key_last_used_at: TS,
    org_id: "varchar(255)",
    approval_status: "varchar(20) default 'approved'",
    approved_at: TS,
    approved_by: "varchar(255)",
  },
  agent_commands: {
    id: "uuid not null default gen_random_uuid()",
    command_id: "varchar(255) not null",
    agent_id: "varchar(255)",
    session_id: "varchar(255)",
    action: "varchar(50) not null",
    payload: "jsonb",
    status: "varchar(50) default 'pending'",
    error_message: "text",
    // The insert's own time, not its transaction's (migration 0012; README, Ordering).
    created_at: `${TS} default clock_timestamp()`,
    sent_at: TS,
    acknowledged_at: TS,
    completed_at: TS,
    updated_at: NOW,
  },
  sessions: {
    id: "varchar(255) not null",
    user_id: "varchar(255)",
    team_id: "varchar(255)",
    template_name: "varchar(255)",
    state: "varchar(50)",
    app_type: "varchar(50) default 'desktop'",
    active_connections: "integer default 0",
    url: "text",
    namespace: "varchar(255) default 'streamspace'",
    created_at: NOW,
    updated_at: NOW,
    last_connection: TS,
    last_disconnect: TS,
    snapshot_config: "jsonb default '{}'",
    platform: "varchar(50) default 'kubernetes'",
    controller_id: "varchar(255)",
    pod_name: "varchar(255)",
    memory: "varchar(50)",
    cpu: "varchar(50)",
    persistent_home: "boolean default false",
    idle_timeout: "varchar(50)",
    max_session_duration: "varchar(50)",
    last_activity: TS,
    agent_id: "varchar(255)",
    platform_metadata: "jsonb",
    cluster_id: "varchar(255)",
    tags: "text[]",
    org_id: "varchar(255)",
    streaming_protocol: "varchar(50) default 'vnc'",
    streaming_port: "integer default 5900",
    streaming_path: "varchar(255)",
    termination_reason: "varchar(255)",
    terminated_at: TS,
  },
};

type ColumnRow = { table_name: string; column_name: string; type: string; is_nullable: string; column_default: string | null };

async function columnsAsDescribed(): Promise<Record<string, Record<string, string>>> {
  const rows = await query<ColumnRow>(sql`
    select table_name, column_name, format_type(a.atttypid, a.atttypmod) as type, is_nullable, column_default
    from information_schema.columns c
    join pg_attribute a on a.attrelid = (quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass and a.attname = c.column_name
    where c.table_schema = current_schema() and c.table_name in ('agents', 'agent_commands', 'sessions')`);
  const described: Record<string, Record<string, string>> = {};
  for (const r of rows) {
    const type = r.type
      .replace(/^character varying/, "varchar")
      .replace(/^timestamp with time zone$/, TS);
    // Casts Postgres adds to a literal default ('offline'::character varying, '{}'::jsonb).
    const dflt = r.column_default?.replace(/::[a-z ]+$/, "");
    (described[r.table_name] ??= {})[r.column_name] = [type, r.is_nullable === "NO" ? "not null" : "", dflt ? `default ${dflt}` : ""].filter(Boolean).join(" ");
  }
  return described;
}

describe("F. schema", () => {
  it("[F51] has the original's columns with their types, NULL-ability and defaults", async () => {
    const described = await columnsAsDescribed();
    for (const [table, columns] of Object.entries(SPEC)) {
      expect(described[table], table).toMatchObject(columns);
    }
  });

  it("[F51] keeps agents.agent_id and agent_commands.command_id unique and cascades an agent's delete to its commands", async () => {
    const constraints = await query<{ def: string }>(sql`
      select conrelid::regclass::text || ' ' || pg_get_constraintdef(oid) as def from pg_constraint
      where conrelid in ('agents'::regclass, 'agent_commands'::regclass) and contype in ('u', 'f')`);
    const defs = constraints.map((c) => c.def);
    expect(defs).toContain("agents UNIQUE (agent_id)");
    expect(defs).toContain("agent_commands UNIQUE (command_id)");
    expect(defs).toContain("agent_commands FOREIGN KEY (agent_id) REFERENCES agents(agent_id) ON DELETE CASCADE");
  });
});
