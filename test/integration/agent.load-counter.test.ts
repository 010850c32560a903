import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { makeAgent, query, uniqueId } from "../helpers/db";
import { mulberry32 } from "../helpers/prng";

/**
 * agents.active_sessions is the selection's load (spec §5.4), maintained by triggers on
 * sessions (migrations/0003, 0004). It must equal a count of the agent's running, hibernated and
 * pending sessions after any write, whoever makes it: the API, the sweep or SQL by hand.
 */
describe("an agent's load counter always equals its running, hibernated and pending sessions", () => {
  const STATES = ["pending", "running", "hibernating", "hibernated", "waking", "terminating", "terminated", "failed"];

  const mismatches = (agentIds: string[]) =>
    query<{ agent_id: string; counter: number; actual: number }>(sql`
      select a.agent_id, a.active_sessions as counter,
        (select count(*)::int from sessions s where s.agent_id = a.agent_id
           and s.state in ('running', 'hibernated', 'pending')) as actual
      from agents a where a.agent_id in ${agentIds}`).then((rows) => rows.filter((r) => r.counter !== r.actual));

  it("through seeded random inserts, state changes, moves between agents, multi-row updates and deletes", async () => {
    const agentIds: string[] = [];
    for (let i = 0; i < 4; i++) agentIds.push((await makeAgent()).agentId);
    const rng = mulberry32(0x10ad);
    const sessionIds: string[] = [];
    const someSessions = () => sessionIds.filter(() => rng.chance(0.4));

    for (let step = 0; step < 120; step++) {
      const op = sessionIds.length < 3 ? 0 : rng.int(0, 5);
      const [a, b] = [rng.pick(agentIds), rng.pick(agentIds)];
      if (op === 0) {
        // Several rows in one statement, some for no agent.
        const rows = Array.from({ length: rng.int(1, 3) }, () => ({
          id: uniqueId("s"),
          state: rng.pick(STATES),
          agent: rng.chance(0.85) ? rng.pick(agentIds) : null,
        }));
        sessionIds.push(...rows.map((r) => r.id));
        const values = sql.join(rows.map((r) => sql`(${r.id}, 'u', 't', ${r.state}, ${r.agent})`), sql`, `);
        await query(sql`insert into sessions (id, user_id, template_name, state, agent_id) values ${values}`);
      } else if (op === 1) {
        await query(sql`update sessions set state = ${rng.pick(STATES)} where id = ${rng.pick(sessionIds)}`);
      } else if (op === 2) {
        const ids = someSessions();
        if (ids.length) await query(sql`update sessions set state = ${rng.pick(STATES)} where id in ${ids}`);
      } else if (op === 3) {
        // Moves between agents, and onto no agent, in one statement.
        await query(sql`update sessions set agent_id = case when agent_id = ${a} then ${b} else ${rng.chance(0.3) ? null : a} end
          where id = ${rng.pick(sessionIds)}`);
      } else if (op === 4) {
        const ids = someSessions();
        if (ids.length) await query(sql`update sessions set pod_name = 'p', url = 'u' where id in ${ids}`); // no load change
      } else {
        const id = sessionIds.splice(rng.int(0, sessionIds.length - 1), 1)[0]!;
        await query(sql`delete from sessions where id = ${id}`);
      }
      expect(await mismatches(agentIds), `after step ${step} (op ${op})`).toEqual([]);
    }
  });

  it("under concurrent multi-row updates touching the same agents in opposite orders, without deadlocks", async () => {
    const agentIds: string[] = [];
    for (let i = 0; i < 3; i++) agentIds.push((await makeAgent()).agentId);
    // 20 statements, each over its own three sessions, one per agent: half list them by agent
    // A, B, C and half C, B, A. Only the agents' rows are shared between the statements.
    const groups = Array.from({ length: 20 }, (_, g) => {
      const rows = agentIds.map((agentId) => ({ id: uniqueId("s"), agentId }));
      return g % 2 ? rows.reverse() : rows;
    });
    const values = sql.join(groups.flat().map((r) => sql`(${r.id}, 'u', 't', 'running', ${r.agentId})`), sql`, `);
    await query(sql`insert into sessions (id, user_id, template_name, state, agent_id) values ${values}`);
    await Promise.all(
      groups.map((rows) => {
        const list = sql.join(rows.map((r, n) => sql`(${r.id}, ${n})`), sql`, `);
        return query(sql`update sessions s set state = 'terminated' from (values ${list}) as v(id, n) where s.id = v.id`);
      }),
    );
    expect(await mismatches(agentIds)).toEqual([]);
    const [total] = await query<{ n: number }>(sql`select sum(active_sessions)::int as n from agents where agent_id in ${agentIds}`);
    expect(total?.n).toBe(0);
  });

  it("back to zero when sessions are truncated", async () => {
    const { agentId } = await makeAgent();
    await query(sql`insert into sessions (id, user_id, template_name, state, agent_id) values (${uniqueId("s")}, 'u', 't', 'running', ${agentId})`);
    await query(sql`truncate sessions`);
    expect(await mismatches([agentId])).toEqual([]);
  });
});
