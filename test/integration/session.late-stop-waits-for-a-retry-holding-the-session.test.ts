/**
 * A late answer reporting a failed start as run queues a stop of its session
 * (stop_ended_session_again), and an administrator's retry of that start refuses to go ahead
 * while such a stop is open. The two meet on the session's row: the stop waits for a retry that
 * holds it and, the session `pending` by then, is not queued (migration 0024). Read without the
 * lock, the stop saw the session still `failed`, and both committed: the retried start queued
 * behind a stop that ended its session.
 */
import { sql } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { transaction } from "../../src/db/transaction";
import { makeAgent, query, waitForLockWaiter, withDb } from "../helpers/db";

describe.skipIf(!inject("concurrentSessions"))("a stop queued for a late answer while a retry holds the session", () => {
  it("waits for the retry and is not queued once the session is pending again", async () => {
    const { agentId } = await makeAgent();
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('late-vs-retry', 'u', 'failed', ${agentId})`);
    const { stop } = await withDb((db) =>
      transaction(db, async (tx) => {
        // The retry's move: the session back to pending, its row held until the retry commits.
        await tx.execute(sql`update sessions set state = 'pending' where id = 'late-vs-retry'`);
        const stop = query<{ id: string | null }>(sql`select stop_ended_session_again(${agentId}, 'late-vs-retry') as id`);
        await waitForLockWaiter("the late answer's stop waiting for the session");
        return { stop };
      }),
    );
    expect((await stop)[0]?.id).toBeNull();
    const stops = await query<{ n: number }>(sql`select count(*)::int as n from agent_commands where session_id = 'late-vs-retry'`);
    expect(stops[0]?.n).toBe(0);
  });

  it("is queued as before when no retry holds the session", async () => {
    const { agentId } = await makeAgent();
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('late-alone', 'u', 'failed', ${agentId})`);
    const [row] = await query<{ id: string | null }>(sql`select stop_ended_session_again(${agentId}, 'late-alone') as id`);
    expect(row?.id).toMatch(/^cmd-/);
  });
});
