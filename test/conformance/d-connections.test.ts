/** Checklist D (spec §10): one socket per agent, replacement and fail-over. Storms are Node-side. */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getAgentRow, getCommand, makeAgent, query } from "../helpers/db";
import { call } from "../helpers/http";
import { connectAgent, settle } from "../helpers/ws";

describe("D. connections and HA", () => {
  it("[D23][D24][D25] replaces the first socket with a second; only the second gets commands; the first's close changes nothing", async () => {
    const agent = await makeAgent();
    const first = await connectAgent(agent.agentId, agent.apiKey);
    const second = await connectAgent(agent.agentId, agent.apiKey);

    expect(await first.closed()).toBe(4000);
    await settle(agent.agentId);
    expect((await getAgentRow(agent.agentId))?.status).toBe("online");
    expect(second.ws.readyState).toBe(WebSocket.OPEN);

    await query(sql`insert into agent_commands (command_id, agent_id, action) values ('cmd-after-replace', ${agent.agentId}, 'stop_session')`);
    await settle(agent.agentId);
    expect((await second.nextFrame()).payload.commandId).toBe("cmd-after-replace");
    await expect(first.nextFrame(200)).rejects.toThrow(/no frame/);
    // The object takes its events in order: once the second socket's ack has landed, the first's
    // close (its echo came long before) has been handled, and it left the agent online.
    second.send({ type: "ack", payload: { commandId: "cmd-after-replace" } });
    await expect.poll(async () => (await getCommand("cmd-after-replace"))?.status, { timeout: 5000 }).toBe("ack");
    expect((await getAgentRow(agent.agentId))?.status).toBe("online");

    // Closing the current socket is what takes the agent offline.
    second.close();
    await expect.poll(async () => (await getAgentRow(agent.agentId))?.status, { timeout: 5000 }).toBe("offline");
  });

  it("[D26] lets a replica take over from another address and hands it the pending and unacknowledged work", async () => {
    const agent = await makeAgent();
    const register = (ip: string) =>
      call("POST", "/api/v1/agents/register", {
        headers: { "X-Agent-API-Key": agent.apiKey, "CF-Connecting-IP": ip },
        body: { agentId: agent.agentId, platform: "kubernetes" },
      });
    expect((await register("10.0.0.1")).status).toBe(200);
    const leader = await connectAgent(agent.agentId, agent.apiKey);
    await query(sql`insert into agent_commands (command_id, agent_id, action) values ('cmd-unacked', ${agent.agentId}, 'stop_session'), ('cmd-acked', ${agent.agentId}, 'stop_session')`);
    await settle(agent.agentId);
    expect((await leader.nextFrame()).payload.commandId).toBe("cmd-unacked");
    expect((await leader.nextFrame()).payload.commandId).toBe("cmd-acked");
    leader.send({ type: "ack", payload: { commandId: "cmd-acked" } });
    await expect.poll(async () => (await getCommand("cmd-acked"))?.status).toBe("ack");
    leader.ws.close(1001, "pod deleted"); // the leader goes away
    await expect.poll(async () => (await getAgentRow(agent.agentId))?.status).toBe("offline");
    await query(sql`insert into agent_commands (command_id, agent_id, action) values ('cmd-while-away', ${agent.agentId}, 'stop_session')`);

    // The standby wins the lease and connects from elsewhere.
    expect((await register("10.0.0.2")).status).toBe(200);
    const standby = await connectAgent(agent.agentId, agent.apiKey);
    const got = [(await standby.nextFrame()).payload.commandId, (await standby.nextFrame()).payload.commandId];
    expect(got).toEqual(["cmd-unacked", "cmd-while-away"]);
    expect((await getAgentRow(agent.agentId))?.status).toBe("online");
    standby.close();
  });
});
