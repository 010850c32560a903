/**
 * When the sweep ends a command (no answer after max_attempts, or its deadline passed) or an
 * administrator cancels one, the command and its session change together: a command already
 * final is never selected again, so a session left behind by a failure half-way would stay
 * stuck. The failure is made real: Postgres refuses the session's update (a trigger on the test
 * database) until the test drops it.
 */
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { runSweepNow } from "../helpers/cron";
import { getCommand, getSessionRow, makeAgent, query } from "../helpers/db";
import { call, callJson, tokenFor } from "../helpers/http";

async function refuseSessionUpdates(id: string): Promise<void> {
  await query(sql.raw(`create or replace function test_refuse_session() returns trigger language plpgsql as $$
    begin raise exception 'refused for the test'; end $$`));
  await query(sql.raw(`create trigger test_refuse_session before update on sessions for each row
    when (old.id = '${id}') execute function test_refuse_session()`));
}

describe("ending a command", () => {
  afterEach(async () => {
    await query(sql`drop trigger if exists test_refuse_session on sessions`);
  });

  it("leaves a lease-expired start and its session as they were when the session's update fails, and ends both next time", async () => {
    const { agentId } = await makeAgent();
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('lease-s', 'u', 'pending', ${agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status, attempts, max_attempts, sent_at, lease_expires_at)
      values ('cmd-lease-s', ${agentId}, 'lease-s', 'start_session', 'sent', 5, 5, now() - interval '2 minutes', now() - interval '1 minute')`);
    await refuseSessionUpdates("lease-s");

    const failedRun = await runSweepNow();
    expect(failedRun.errors).toBeGreaterThan(0);
    expect((await getCommand("cmd-lease-s"))?.status).toBe("sent");
    expect((await getSessionRow("lease-s"))?.state).toBe("pending");

    await query(sql`drop trigger test_refuse_session on sessions`);
    const run = await runSweepNow();
    expect(run.failedNoAnswer).toBe(1);
    expect((await getCommand("cmd-lease-s"))?.status).toBe("failed");
    expect((await getSessionRow("lease-s"))?.state).toBe("failed");
  });

  it("does the same for a start whose deadline passed while pending", async () => {
    const { agentId } = await makeAgent();
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('deadline-s', 'u', 'pending', ${agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status, expires_at)
      values ('cmd-deadline-s', ${agentId}, 'deadline-s', 'start_session', 'pending', now() - interval '1 second')`);
    await refuseSessionUpdates("deadline-s");

    expect((await runSweepNow()).errors).toBeGreaterThan(0);
    expect((await getCommand("cmd-deadline-s"))?.status).toBe("pending");
    expect((await getSessionRow("deadline-s"))?.state).toBe("pending");

    await query(sql`drop trigger test_refuse_session on sessions`);
    expect((await runSweepNow()).expired).toBe(1);
    expect((await getCommand("cmd-deadline-s"))?.status).toBe("expired");
    expect((await getSessionRow("deadline-s"))?.state).toBe("failed");
  });

  it("leaves a cancelled hibernate's command and session as they were when the session's update fails", async () => {
    const { agentId } = await makeAgent();
    const admin = await tokenFor("root", { admin: true });
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('cancel-s', 'u', 'hibernating', ${agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action) values ('cmd-cancel-s', ${agentId}, 'cancel-s', 'hibernate_session')`);
    await refuseSessionUpdates("cancel-s");

    const refused = await call("POST", "/api/v1/admin/commands/cmd-cancel-s/cancel", { token: admin });
    expect(refused.status).toBeGreaterThanOrEqual(500);
    expect((await getCommand("cmd-cancel-s"))?.status).toBe("pending");
    expect((await getSessionRow("cancel-s"))?.state).toBe("hibernating");

    await query(sql`drop trigger test_refuse_session on sessions`);
    expect(await callJson("POST", "/api/v1/admin/commands/cmd-cancel-s/cancel", 200, { token: admin })).toMatchObject({ status: "cancelled" });
    expect((await getSessionRow("cancel-s"))?.state).toBe("running");
  });
});
