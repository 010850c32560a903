import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getAgentRow, makeAgent, query } from "../helpers/db";
import { connectAgent, settle } from "../helpers/ws";

describe("a second socket for the same agent", () => {
  it("replaces the first, which is closed without marking the agent offline", async () => {
    const agent = await makeAgent();
    const first = await connectAgent(agent.agentId, agent.apiKey);
    const second = await connectAgent(agent.agentId, agent.apiKey);

    expect(await first.closed()).toBe(4000);
    await settle(agent.agentId);
    expect((await getAgentRow(agent.agentId))?.status).toBe("online");

    // Only the new socket receives commands.
    await query(sql`insert into agent_commands (command_id, agent_id, action) values ('cmd-after-replace', ${agent.agentId}, 'stop_session')`);
    await settle(agent.agentId);
    expect((await second.nextFrame()).payload.commandId).toBe("cmd-after-replace");
    await expect(first.nextFrame(200)).rejects.toThrow(/no frame/);

    // Closing the current socket is what takes the agent offline.
    second.close();
    await expect.poll(async () => (await getAgentRow(agent.agentId))?.status, { timeout: 5000 }).toBe("offline");
  });
});
