import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getCommand, makeAgent, makeTemplate, query, waitFor } from "../helpers/db";
import { callJson, tokenFor } from "../helpers/http";
import { connectAgent, settle } from "../helpers/ws";

describe("commands for an agent that is offline", () => {
  it("stay pending and are delivered in creation order when the agent reconnects", async () => {
    await makeTemplate("desktop");
    const agent = await makeAgent();
    const admin = await tokenFor("root", { admin: true });
    const first = await connectAgent(agent.agentId, agent.apiKey);
    await waitFor("online", async () => {
      const a = await callJson<{ status: string }>("GET", `/api/v1/admin/agents/${agent.agentId}`, 200, { token: admin });
      return a.status === "online" ? true : undefined;
    });

    // Three sessions while connected, so the agent is selectable; it drops before their commands arrive.
    first.close();
    await waitFor("offline", async () => {
      const a = await callJson<{ status: string }>("GET", `/api/v1/admin/agents/${agent.agentId}`, 200, { token: admin });
      return a.status === "offline" ? true : undefined;
    });
    // The agent is offline, so the API cannot select it: enqueue as an operator would, directly in SQL.
    const ids = ["cmd-off-1", "cmd-off-2", "cmd-off-3"];
    for (const id of ids) {
      await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, payload)
        values (${id}, ${agent.agentId}, null, 'stop_session', ${JSON.stringify({ sessionId: id })}::jsonb)`);
    }
    for (const id of ids) expect((await getCommand(id))?.status).toBe("pending");

    const second = await connectAgent(agent.agentId, agent.apiKey);
    const received = [];
    for (let i = 0; i < ids.length; i++) received.push((await second.nextFrame()).payload.commandId);
    expect(received).toEqual(ids);
    for (const id of ids) expect((await getCommand(id))?.status).toBe("sent");
    second.close();
  });

  it("sent on a socket that died unacknowledged are sent again on the next socket", async () => {
    const agent = await makeAgent();
    const first = await connectAgent(agent.agentId, agent.apiKey);
    await query(sql`insert into agent_commands (command_id, agent_id, action) values ('cmd-lost-1', ${agent.agentId}, 'stop_session')`);
    // Nudge delivery the way the API does after a write.
    await settle(agent.agentId);
    expect((await getCommand("cmd-lost-1"))?.status).toBe("sent");
    expect((await first.nextFrame()).payload.commandId).toBe("cmd-lost-1");
    first.close();

    const second = await connectAgent(agent.agentId, agent.apiKey);
    const again = await second.nextFrame();
    expect(again.payload).toMatchObject({ commandId: "cmd-lost-1", action: "stop_session", payload: {} });
    second.send({ type: "ack", payload: { commandId: "cmd-lost-1" } });
    await waitFor("ack", async () => ((await getCommand("cmd-lost-1"))?.status === "ack" ? true : undefined));
    expect((await getCommand("cmd-lost-1"))?.attempts).toBe(2);
    second.close();
  });
});
