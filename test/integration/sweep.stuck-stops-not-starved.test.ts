/**
 * The reconciler retries a stuck stop once (checklist 50). Sessions whose stop was retried and is
 * still stuck keep their old `updated_at`; they must not fill the batch of stop candidates and
 * keep newer stuck sessions from ever getting their retry.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { sessionListStuckTerminating } from "../../src/db/queries/sessions";
import { makeAgent, query, withDb } from "../helpers/db";

describe("the stuck-terminating reconciler's candidates", () => {
  it("leave out sessions whose stop was already retried, oldest first among the rest", async () => {
    const { agentId } = await makeAgent();
    await query(sql`update agents set status = 'online', last_heartbeat = now() where agent_id = ${agentId}`);
    await query(sql`insert into sessions (id, user_id, state, agent_id, updated_at) values
      ('retried-1', 'u', 'terminating', ${agentId}, now() - interval '60 minutes'),
      ('retried-2', 'u', 'terminating', ${agentId}, now() - interval '50 minutes'),
      ('not-yet', 'u', 'terminating', ${agentId}, now() - interval '6 minutes')`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status) values
      ('stop-r1-a', ${agentId}, 'retried-1', 'stop_session', 'completed'), ('stop-r1-b', ${agentId}, 'retried-1', 'stop_session', 'failed'),
      ('stop-r2-a', ${agentId}, 'retried-2', 'stop_session', 'completed'), ('stop-r2-b', ${agentId}, 'retried-2', 'stop_session', 'failed'),
      ('stop-n-a', ${agentId}, 'not-yet', 'stop_session', 'completed')`);
    const first = await withDb((db) => sessionListStuckTerminating(db, 5, 1));
    expect(first).toEqual([{ id: "not-yet", agentId }]);
  });
});
