/**
 * A request Postgres rolls back because of concurrent work gets a clear answer, not a 500:
 * a deadlock or serialization failure, in each of the three runs a transaction gets, answers
 * 503 "Conflict with concurrent work" (retry), and
 * a row it refers to that was deleted meanwhile (the session's agent) answers 409. Nothing is
 * written either way. Triggers make each race happen at the statement where it would.
 */
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { getSessionRow, makeAgent, query } from "../helpers/db";
import { call, tokenFor } from "../helpers/http";

async function runningSession(id: string): Promise<void> {
  const { agentId } = await makeAgent();
  await query(sql`insert into sessions (id, user_id, state, agent_id) values (${id}, 'cora', 'running', ${agentId})`);
}

async function commandsFor(sessionId: string): Promise<number> {
  const rows = await query<{ n: number }>(sql`select count(*)::int as n from agent_commands where session_id = ${sessionId}`);
  return rows[0]!.n;
}

describe("a session action rolled back by concurrent work", () => {
  afterAll(async () => {
    await query(sql`drop trigger if exists race_agent_gone on agent_commands`);
    await query(sql`drop trigger if exists race_deadlock on agent_commands`);
    await query(sql`drop sequence if exists race_deadlock_runs`);
  });

  it("answers 409 when the session's agent was deleted meanwhile, and writes nothing", async () => {
    await runningSession("race-agent-gone");
    await query(sql.raw(`
      create or replace function race_agent_gone() returns trigger language plpgsql as $$
      begin delete from agents where agent_id = new.agent_id; return new; end $$`));
    await query(sql.raw(`create trigger race_agent_gone before insert on agent_commands for each row
        when (new.session_id = 'race-agent-gone') execute function race_agent_gone();`));
    const res = await call("PUT", "/api/v1/sessions/race-agent-gone/hibernate", { token: await tokenFor("cora") });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: "Conflict", code: "conflict", requestId: expect.any(String) });
    expect((await getSessionRow("race-agent-gone"))?.state).toBe("running");
    expect(await commandsFor("race-agent-gone")).toBe(0);
  });

  it("answers 503 Conflict with concurrent work on a deadlock in each of its three runs, and writes nothing", async () => {
    await runningSession("race-deadlock");
    // A sequence counts the runs: nextval is not rolled back.
    await query(sql.raw(`create sequence if not exists race_deadlock_runs`));
    await query(sql.raw(`
      create or replace function race_deadlock() returns trigger language plpgsql as $$
      begin perform nextval('race_deadlock_runs'); raise exception 'deadlock detected' using errcode = '40P01'; end $$`));
    await query(sql.raw(`create trigger race_deadlock before insert on agent_commands for each row
        when (new.session_id = 'race-deadlock') execute function race_deadlock();`));
    const res = await call("PUT", "/api/v1/sessions/race-deadlock/hibernate", { token: await tokenFor("cora") });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: "Conflict with concurrent work", code: "unavailable" });
    const [runs] = await query<{ n: number }>(sql`select last_value::int as n from race_deadlock_runs`);
    expect(runs?.n).toBe(3);
    expect((await getSessionRow("race-deadlock"))?.state).toBe("running");
    expect(await commandsFor("race-deadlock")).toBe(0);
  });
});
