/**
 * An administrator's cancel waits for the agent's next command (it restarts that one's lease)
 * before it moves the session, which can take the agent's row (its load counter). The other way
 * round, it held the agent while it waited for a transaction holding that next command, such as
 * an agent's answer to it about to queue a stop, which takes the agent's row too (migration 0025):
 * each waited for the other until Postgres aborted one. The test's transaction plays the answer:
 * it holds the next command, lets the cancel wait for it, then writes a command for the agent.
 */
import { sql } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { transaction } from "../../src/db/transaction";
import { getSessionRow, makeAgent, query, waitForLockWaiter, withDb } from "../helpers/db";
import { call, tokenFor } from "../helpers/http";

// The test's transaction and the request's run at once: embedded PGlite lets one transaction
// through at a time.
describe.skipIf(!inject("concurrentSessions"))("an administrator's cancel of a start", () => {
  it("does not hold the agent while it waits for the command behind the cancelled one", async () => {
    const { agentId } = await makeAgent();
    const admin = await tokenFor("root", { admin: true });
    // The start counts toward the agent's load; cancelled, its session fails and the count drops.
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('cancel-lock-s', 'u', 'pending', ${agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status, attempts, sent_at, lease_expires_at, created_at) values
      ('cancel-lock-start', ${agentId}, 'cancel-lock-s', 'start_session', 'sent', 1, now() - interval '2 minutes', now() + interval '1 minute', now() - interval '2 minutes'),
      ('cancel-lock-next', ${agentId}, null, 'stop_session', 'sent', 1, now() - interval '1 minute', now() + interval '1 minute', now() - interval '1 minute')`);

    const { cancel, wrote } = await withDb((db) =>
      transaction(db, async (tx) => {
        await tx.execute(sql`select 1 from agent_commands where command_id = 'cancel-lock-next' for update`);
        const cancel = call("POST", "/api/v1/admin/commands/cancel-lock-start/cancel", { token: admin });
        await waitForLockWaiter("the cancel waiting for the next command", { on: "agent_commands", timeoutMs: 10_000 });
        // The agent's row is free: taken without waiting (NOWAIT fails at once if the cancel
        // holds it), then the command written as the answer's stop would be.
        await tx.execute(sql`select 1 from agents where agent_id = ${agentId} for no key update nowait`);
        await tx.execute(sql`insert into agent_commands (command_id, agent_id, action, status)
          values ('cancel-lock-written', ${agentId}, 'stop_session', 'pending')`);
        return { cancel, wrote: true };
      }),
    );
    expect(wrote).toBe(true);
    expect((await cancel).status).toBe(200);
    expect((await getSessionRow("cancel-lock-s"))?.state).toBe("failed");
  });
});
