/**
 * A docker agent's failure reply is matched only among the session's commands recorded `sent`.
 * One that arrives while its pushed command's `sent` record fails for a reason a retry gets past
 * (a deadlock, a statement cancelled, an outage) is kept and applied again once the record goes
 * through, as any frame during an outage. It was matched to nothing and dropped: the start
 * stayed `pending`, was sent again later, and its session waited 15 minutes and more.
 * A trigger makes the first two `sent` records of the test's session fail as a deadlock: the
 * reply's own meets one, whether or not the object's timed record (0.5 s) came first.
 */
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { getCommand, getSessionRow, makeAgent, query, waitFor } from "../helpers/db";
import { callJson, tokenFor } from "../helpers/http";
import { connectAgent } from "../helpers/ws";

describe("a docker failure reply whose command's sent record fails once", () => {
  afterEach(async () => {
    await query(sql`drop trigger if exists sent_record_deadlocks_twice on agent_commands`);
    await query(sql`drop function if exists sent_record_deadlocks_twice()`);
    await query(sql`drop sequence if exists sent_record_deadlocks_twice`);
  });

  it("is applied once the record goes through: the start fails and its session with it", async () => {
    const { agentId, apiKey } = await makeAgent({ platform: "docker" });
    const socket = await connectAgent(agentId, apiKey);
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('dock-record-fails', 'u', 'pending', ${agentId})`);
    await query(sql`create sequence sent_record_deadlocks_twice`);
    await query(sql.raw(`create function sent_record_deadlocks_twice() returns trigger language plpgsql as $$
      begin
        if nextval('sent_record_deadlocks_twice') <= 2 then raise exception 'deadlock detected' using errcode = '40P01'; end if;
        return new;
      end $$`));
    await query(sql`create trigger sent_record_deadlocks_twice before update on agent_commands for each row
      when (new.session_id = 'dock-record-fails' and old.status = 'pending' and new.status = 'sent') execute function sent_record_deadlocks_twice()`);

    const admin = await tokenFor("root", { admin: true });
    const { commandId } = await callJson<{ commandId: string }>("POST", `/api/v1/admin/agents/${agentId}/command`, 201, {
      token: admin,
      body: { action: "start_session", sessionId: "dock-record-fails" },
    });
    expect((await socket.nextFrame()).payload.commandId).toBe(commandId);
    socket.send({ type: "command_response", success: false, sessionId: "dock-record-fails", error: "image not found", timestamp: Math.floor(Date.now() / 1000) });

    await waitFor("the start failed", async () => ((await getCommand(commandId))?.status === "failed" ? true : undefined), 10_000);
    expect(await getCommand(commandId)).toMatchObject({ status: "failed", error_message: "image not found" });
    expect((await getSessionRow("dock-record-fails"))?.state).toBe("failed");
    const [tries] = await query<{ n: string }>(sql`select last_value::text as n from sent_record_deadlocks_twice`);
    expect(Number(tries?.n)).toBeGreaterThanOrEqual(3); // refused twice, then recorded
    socket.close();
  });
});
