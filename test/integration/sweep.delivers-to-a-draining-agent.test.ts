/**
 * An agent that said it is draining (HTTP heartbeat) is kept out of new sessions, not out of the
 * commands of the sessions it runs: the sweep delivers them, a stop sent again after its lease
 * ran out included. It delivered only to agents `online`, so such a command waited for the
 * socket's next stored heartbeat, up to ~55 s later.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { runSweepNow } from "../helpers/cron";
import { makeAgent, query } from "../helpers/db";
import { connectAgent } from "../helpers/ws";

describe("the sweep and a draining agent", () => {
  it("delivers the agent's pending commands", async () => {
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    await query(sql`update agents set status = 'draining' where agent_id = ${agentId}`);
    await query(sql`insert into agent_commands (command_id, agent_id, action, created_at) values ('cmd-to-draining', ${agentId}, 'stop_session', now() - interval '1 minute')`);
    expect((await runSweepNow()).delivered).toBe(1);
    expect((await socket.nextFrame()).payload.commandId).toBe("cmd-to-draining");
    socket.close();
  });
});
