/**
 * A test-only record of every status change of `agent_commands`, written by a trigger in the
 * test file's own scratch database. Polling the table can miss a transition (or a row that moved
 * back and forth between two polls); the trigger sees each one, so fault tests can assert
 * "completed exactly once" and "never left a final status" on the database's own evidence.
 */
import type pg from "pg";

export type Transition = { commandId: string; from: string; to: string; attempts: number };

/** Statuses a command must never leave (README "Delivery"). */
export const FINAL = new Set(["completed", "failed", "expired", "cancelled"]);

/** Installs the audit table and trigger; call once per stack, before the commands are written. */
export async function installCommandAudit(sql: pg.Pool): Promise<void> {
  await sql.query(`
    create table if not exists test_command_audit (
      n bigserial primary key,
      command_id text not null,
      from_status text,
      to_status text,
      attempts int,
      at timestamptz not null default clock_timestamp()
    );
    create or replace function test_command_audit_fn() returns trigger language plpgsql as $$
    begin
      if tg_op = 'INSERT' then
        insert into test_command_audit (command_id, from_status, to_status, attempts)
        values (new.command_id, null, new.status, new.attempts);
      elsif new.status is distinct from old.status then
        insert into test_command_audit (command_id, from_status, to_status, attempts)
        values (new.command_id, old.status, new.status, new.attempts);
      end if;
      return new;
    end $$;
    drop trigger if exists test_command_audit_trg on agent_commands;
    create trigger test_command_audit_trg after insert or update on agent_commands
      for each row execute function test_command_audit_fn();
  `);
}

/** Every status change of `commandIds` (all commands if omitted), oldest first. */
export async function transitions(sql: pg.Pool, commandIds?: string[]): Promise<Transition[]> {
  const { rows } = await sql.query<{ command_id: string; from_status: string | null; to_status: string; attempts: number }>(
    `select command_id, from_status, to_status, attempts from test_command_audit
     where from_status is not null and ($1::text[] is null or command_id = any($1)) order by n`,
    [commandIds ?? null],
  );
  return rows.map((r) => ({ commandId: r.command_id, from: r.from_status!, to: r.to_status, attempts: r.attempts }));
}

/** Violations of "final statuses are final" and "completed at most once", one line each. */
export async function auditViolations(sql: pg.Pool): Promise<string[]> {
  const { rows: leftFinal } = await sql.query<{ command_id: string; from_status: string; to_status: string }>(
    `select command_id, from_status, to_status from test_command_audit
     where from_status = any($1) order by n`,
    [[...FINAL]],
  );
  const { rows: twice } = await sql.query<{ command_id: string; n: number }>(
    `select command_id, count(*)::int as n from test_command_audit where to_status = 'completed'
     group by command_id having count(*) > 1`,
  );
  return [
    ...leftFinal.map((r) => `${r.command_id} left final status ${r.from_status} for ${r.to_status}`),
    ...twice.map((r) => `${r.command_id} became completed ${r.n} times`),
  ];
}
