/**
 * An administrator's retry of a failed or expired session command puts the session back where
 * the command left it from, so the retried command's completion moves it as the first attempt's
 * would have. A session that has moved on since (a user stopped it) is not touched, and nothing
 * is retried: a start retried for a terminated session would start a pod nobody owns. Nor while
 * a stop of the session is open (one removing the pod of a start that ran after it failed): the
 * stop would end the session, and the retried start then start a pod only to have it stopped.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getCommand, getSessionRow, makeAgent, query } from "../helpers/db";
import { call, callJson, tokenFor } from "../helpers/http";

describe("an admin retry of a failed session command", () => {
  it("moves the session back to the state the command left it from", async () => {
    const { agentId } = await makeAgent();
    const admin = await tokenFor("root", { admin: true });
    // A hibernate that failed: the failure returned its session to running.
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('retry-h', 'u', 'running', ${agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status, error_message)
      values ('cmd-retry-h', ${agentId}, 'retry-h', 'hibernate_session', 'failed', 'no result after 5 deliveries')`);
    const retried = await callJson("POST", "/api/v1/admin/commands/cmd-retry-h/retry", 200, { token: admin });
    expect(retried).toMatchObject({ status: "pending" });
    expect((await getSessionRow("retry-h"))?.state).toBe("hibernating");
  });

  it("refuses with 409 and changes nothing when the session has moved on", async () => {
    const { agentId } = await makeAgent();
    const admin = await tokenFor("root", { admin: true });
    // A start that expired (session failed), then the user deleted the session.
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('retry-s', 'u', 'terminated', ${agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status)
      values ('cmd-retry-s', ${agentId}, 'retry-s', 'start_session', 'expired')`);
    const refused = await call("POST", "/api/v1/admin/commands/cmd-retry-s/retry", { token: admin });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ error: "Session has moved on" });
    expect((await getCommand("cmd-retry-s"))?.status).toBe("expired");
    expect((await getSessionRow("retry-s"))?.state).toBe("terminated");
  });

  it("refuses with 409 and changes nothing while a stop of the session is still open", async () => {
    const { agentId } = await makeAgent();
    const admin = await tokenFor("root", { admin: true });
    // A start that failed, then ran all the same: a stop was queued to remove its pod.
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('retry-f', 'u', 'failed', ${agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status, created_at) values
      ('cmd-retry-f', ${agentId}, 'retry-f', 'start_session', 'failed', now() - interval '1 minute'),
      ('cmd-cleanup-f', ${agentId}, 'retry-f', 'stop_session', 'pending', now())`);
    const refused = await call("POST", "/api/v1/admin/commands/cmd-retry-f/retry", { token: admin });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ error: "Session has moved on" });
    expect((await getCommand("cmd-retry-f"))?.status).toBe("failed");
    expect((await getSessionRow("retry-f"))?.state).toBe("failed");
  });
});
