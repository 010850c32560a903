/**
 * An agent frame whose write Postgres rolls back as a deadlock with concurrent work (an agent's
 * delete against a command's finish can take their locks in opposite orders) is kept and
 * applied again, as during an outage, not dropped: the command still ends `completed`. A
 * trigger makes the first attempt fail with the deadlock's SQLSTATE.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { frames, openRawAgent } from "./helpers/raw-agent";
import type { RawAgent } from "./helpers/raw-agent";
import { agentOnline, eventually, startStack } from "./helpers/stack";
import type { Stack } from "./helpers/stack";

describe("a frame rolled back by a deadlock", () => {
  let stack: Stack;
  let raw: RawAgent;
  const agentId = "deadlocked-frame";

  beforeAll(async () => {
    stack = await startStack();
    raw = await openRawAgent(stack.wsUrl, agentId, await stack.makeAgent(agentId));
    await agentOnline(stack, agentId);
  }, 120_000);
  afterAll(async () => {
    await raw?.close();
    await stack?.stop();
  });

  it("is kept and applied again: the command ends completed", async () => {
    await stack.sql.query(`create sequence deadlock_once`);
    await stack.sql.query(`
      create function deadlock_once() returns trigger language plpgsql as $$
      begin
        if nextval('deadlock_once') = 1 then raise exception 'deadlock detected' using errcode = '40P01'; end if;
        return new;
      end $$`);
    await stack.sql.query(`create trigger deadlock_once before update on agent_commands for each row
      when (new.command_id = 'cmd-deadlocked' and new.status = 'completed') execute function deadlock_once()`);
    await stack.sql.query(`insert into agent_commands (command_id, agent_id, action, status, lease_expires_at)
      values ('cmd-deadlocked', $1, 'stop_session', 'ack', now() + interval '10 minutes')`, [agentId]);

    raw.send(frames.complete("cmd-deadlocked", { state: "terminated" }));
    const status = await eventually("the command completed", async () => {
      const { rows } = await stack.sql.query(`select status from agent_commands where command_id = 'cmd-deadlocked'`);
      return rows[0]?.status === "completed" ? "completed" : undefined;
    }, 15_000);
    expect(status).toBe("completed");
    const { rows } = await stack.sql.query(`select last_value from deadlock_once`);
    expect(Number(rows[0]?.last_value)).toBeGreaterThanOrEqual(2); // failed once, then went through
  }, 60_000);
});
