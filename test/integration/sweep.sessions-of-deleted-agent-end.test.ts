/**
 * Deleting an agent sets its sessions' agent_id to NULL (and deletes its commands). A session
 * left running, hibernated, hibernating or waking then has nothing that could move it: every
 * user action needs its agent, and no agent answers for it. The reconciler ends such sessions,
 * as it ends a pending or terminating one whose agent is gone.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { runSweepNow } from "../helpers/cron";
import { makeAgent, query } from "../helpers/db";

describe("sessions of a deleted agent", () => {
  it("end terminated (agent_unavailable) once unchanged for 10 minutes", async () => {
    const { agentId } = await makeAgent();
    await query(sql`insert into sessions (id, user_id, state, agent_id, updated_at) values
      ('orph-run', 'u', 'running', ${agentId}, now() - interval '30 minutes'),
      ('orph-hib', 'u', 'hibernating', ${agentId}, now() - interval '11 minutes'),
      ('orph-recent', 'u', 'hibernated', ${agentId}, now() - interval '2 minutes'),
      ('kept', 'u', 'running', ${agentId}, now() - interval '30 minutes')`);
    await query(sql`update sessions set agent_id = null where id in ('orph-run', 'orph-hib', 'orph-recent')`); // as the delete's cascade does
    const result = await runSweepNow();
    expect(result.sessionsTerminated).toBe(2);
    const rows = await query<{ id: string; state: string; termination_reason: string | null }>(
      sql`select id, state, termination_reason from sessions where id in ('orph-run', 'orph-hib', 'orph-recent', 'kept') order by id`,
    );
    expect(rows).toEqual([
      { id: "kept", state: "running", termination_reason: null },
      { id: "orph-hib", state: "terminated", termination_reason: "agent_unavailable" },
      { id: "orph-recent", state: "hibernated", termination_reason: null },
      { id: "orph-run", state: "terminated", termination_reason: "agent_unavailable" },
    ]);
  });
});
