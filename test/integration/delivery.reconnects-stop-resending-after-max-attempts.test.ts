import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { runSweepNow } from "../helpers/cron";
import { getCommand, makeAgent, query } from "../helpers/db";
import { connectAgent, settle } from "../helpers/ws";

describe("reconnects and max_attempts", () => {
  it("stop re-sending an unacknowledged command on reconnect once it was delivered max_attempts times, and fail it when its lease runs out", async () => {
    const { agentId, apiKey } = await makeAgent();
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('poison-s1', 'u', 'pending', ${agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, max_attempts) values ('cmd-poison', ${agentId}, 'poison-s1', 'start_session', 2)`);

    // An agent that dies on the command before acking it, twice.
    for (let delivery = 1; delivery <= 2; delivery++) {
      const socket = await connectAgent(agentId, apiKey);
      expect((await socket.nextFrame()).payload.commandId).toBe("cmd-poison");
      expect(await getCommand("cmd-poison")).toMatchObject({ status: "sent", attempts: delivery });
      socket.close();
    }

    // connectAgent returns once the connect's claim has committed: the command was not taken.
    const third = await connectAgent(agentId, apiKey);
    expect(await getCommand("cmd-poison")).toMatchObject({ status: "sent", attempts: 2 });

    // The agent's newer work is not held up behind it.
    await query(sql`insert into agent_commands (command_id, agent_id, action) values ('cmd-after-poison', ${agentId}, 'stop_session')`);
    await settle(agentId); // a drain
    expect((await third.nextFrame()).payload.commandId).toBe("cmd-after-poison");

    await query(sql`update agent_commands set lease_expires_at = now() - interval '1 second' where command_id = 'cmd-poison'`);
    expect((await runSweepNow()).failedNoAnswer).toBe(1);
    const row = await getCommand("cmd-poison");
    expect(row).toMatchObject({ status: "failed", attempts: 2 });
    expect(row?.error_message).toMatch(/no result after 2 deliveries/);
    const [session] = await query<{ state: string }>(sql`select state from sessions where id = 'poison-s1'`);
    expect(session?.state).toBe("failed");
    third.close();
  });

  it("re-send on reconnect the commands behind the oldest, whatever their count: they were waiting their turn", async () => {
    const { agentId, apiKey } = await makeAgent();
    await query(sql`insert into agent_commands (command_id, agent_id, action, max_attempts) values ('cmd-running', ${agentId}, 'stop_session', 5)`);
    await query(sql`insert into agent_commands (command_id, agent_id, action, max_attempts) values ('cmd-waiting', ${agentId}, 'stop_session', 1)`);
    const first = await connectAgent(agentId, apiKey);
    for (const id of ["cmd-running", "cmd-waiting"]) expect((await first.nextFrame()).payload.commandId).toBe(id);
    first.close();
    const second = await connectAgent(agentId, apiKey);
    for (const id of ["cmd-running", "cmd-waiting"]) expect((await second.nextFrame()).payload.commandId).toBe(id);
    expect(await getCommand("cmd-waiting")).toMatchObject({ status: "sent", attempts: 2 });
    second.close();
  });

  it("re-send an unacknowledged command on reconnect while it has deliveries left", async () => {
    const { agentId, apiKey } = await makeAgent();
    await query(sql`insert into agent_commands (command_id, agent_id, action, max_attempts) values ('cmd-lost-on-socket', ${agentId}, 'stop_session', 2)`);
    const first = await connectAgent(agentId, apiKey);
    expect((await first.nextFrame()).payload.commandId).toBe("cmd-lost-on-socket");
    first.close();
    const second = await connectAgent(agentId, apiKey);
    expect((await second.nextFrame()).payload.commandId).toBe("cmd-lost-on-socket");
    expect(await getCommand("cmd-lost-on-socket")).toMatchObject({ status: "sent", attempts: 2 });
    second.close();
  });
});
