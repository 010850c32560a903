/**
 * An administrator's retry takes its command's new `created_at` once it holds its session's row,
 * not before waiting for it: taken first, a retry that waited on the session while another
 * transaction created a command for the same agent and committed ended up older than that
 * command although it committed after it, and the agent got the two out of creation order (the
 * newer one was claimed or pushed before the retried one existed to hold it back).
 */
import { sql } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { transaction } from "../../src/db/transaction";
import { makeAgent, query, waitForLockWaiter, withDb } from "../helpers/db";
import { callJson, tokenFor } from "../helpers/http";

// The test's transaction holds the session while the request waits on it: embedded PGlite lets
// one transaction through at a time.
describe.skipIf(!inject("concurrentSessions"))("a retry that waits for its session", () => {
  it("is newer than a command committed while it waited", async () => {
    const { agentId } = await makeAgent();
    const admin = await tokenFor("root", { admin: true });
    // A hibernate that failed: its session went back to running.
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('wait-h', 'u', 'running', ${agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status, created_at)
      values ('cmd-wait-h', ${agentId}, 'wait-h', 'hibernate_session', 'failed', now() - interval '1 hour')`);

    const { retry } = await withDb((db) =>
      transaction(db, async (tx) => {
        await tx.execute(sql`select 1 from sessions where id = 'wait-h' for update`);
        const retry = callJson<{ status: string }>("POST", "/api/v1/admin/commands/cmd-wait-h/retry", 200, { token: admin });
        await waitForLockWaiter("the retry waiting for its session");
        // Another command for the agent, committed with this transaction while the retry waits.
        await tx.execute(sql`insert into agent_commands (command_id, agent_id, session_id, action, status)
          values ('cmd-meanwhile', ${agentId}, 'another-session', 'stop_session', 'pending')`);
        return { retry };
      }),
    );
    expect(await retry).toMatchObject({ status: "pending" });

    const order = await query<{ command_id: string }>(
      sql`select command_id from agent_commands where agent_id = ${agentId} order by created_at, seq`,
    );
    expect(order.map((r) => r.command_id)).toEqual(["cmd-meanwhile", "cmd-wait-h"]);
  });
});
