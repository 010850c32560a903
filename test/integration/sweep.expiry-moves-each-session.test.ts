/**
 * One sweep ends many commands at once (no answer after max_attempts) and moves each one's
 * session the way its action's failure implies, in one statement: a start's session to failed, a
 * hibernate's back to running, a wake's back to hibernated; a session that has moved on since
 * (the user deleted it) is left alone.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { runSweepNow } from "../helpers/cron";
import { makeAgent, query } from "../helpers/db";

describe("a sweep ending several session commands", () => {
  it("moves each session by its own command's action, and only from the state that action left it in", async () => {
    // One agent each: the sweep judges only an agent's oldest unfinished command.
    const [a, b, c, d] = await Promise.all([makeAgent(), makeAgent(), makeAgent(), makeAgent()]).then((xs) => xs.map((x) => x.agentId));
    await query(sql`insert into sessions (id, user_id, state, agent_id, pod_name, url) values
      ('many-start', 'u', 'pending', ${a}, '', ''), ('many-hib', 'u', 'hibernating', ${b}, 'pod-h', '/vnc-h'),
      ('many-wake', 'u', 'waking', ${c}, 'pod-w', '/vnc-w'), ('many-gone', 'u', 'terminated', ${d}, '', '')`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status, attempts, max_attempts, sent_at, lease_expires_at) values
      ('cmd-many-start', ${a}, 'many-start', 'start_session', 'sent', 5, 5, now(), now() - interval '1 minute'),
      ('cmd-many-hib', ${b}, 'many-hib', 'hibernate_session', 'sent', 5, 5, now(), now() - interval '1 minute'),
      ('cmd-many-wake', ${c}, 'many-wake', 'wake_session', 'sent', 5, 5, now(), now() - interval '1 minute'),
      ('cmd-many-gone', ${d}, 'many-gone', 'hibernate_session', 'sent', 5, 5, now(), now() - interval '1 minute')`);
    expect((await runSweepNow()).failedNoAnswer).toBe(4);
    const states = await query<{ id: string; state: string; pod_name: string }>(
      sql`select id, state, pod_name from sessions where id like 'many-%' order by id`,
    );
    // A session back to hibernated shows no pod; one back to running keeps its own.
    expect(states).toEqual([
      { id: "many-gone", state: "terminated", pod_name: "" },
      { id: "many-hib", state: "running", pod_name: "pod-h" },
      { id: "many-start", state: "failed", pod_name: "" },
      { id: "many-wake", state: "hibernated", pod_name: "" },
    ]);
  });
});
