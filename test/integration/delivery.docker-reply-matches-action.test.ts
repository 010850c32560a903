/**
 * docker-agent's replies name the session, not the command, so the oldest command of the
 * session still in flight is taken as the one answered. A late reply to a command that already
 * ended here (an administrator cancelled the start the agent was still running) must not settle
 * the session's next command, of another action: a reply that reached `running` answers a start
 * or a wake, one that reached `terminated` a stop.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getCommand, getSessionRow, makeAgent, query, waitFor } from "../helpers/db";
import { connectAgent } from "../helpers/ws";

describe("a docker-agent reply", () => {
  it("settles only an in-flight command of an action that reaches the state it reports", async () => {
    const { agentId, apiKey } = await makeAgent({ platform: "docker" });
    const socket = await connectAgent(agentId, apiKey);
    // The start was cancelled while the agent ran it; the user then deleted the session.
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('dock-s', 'u', 'terminating', ${agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status, created_at) values
      ('cmd-dock-start', ${agentId}, 'dock-s', 'start_session', 'cancelled', now() - interval '1 minute'),
      ('cmd-dock-stop', ${agentId}, 'dock-s', 'stop_session', 'sent', now())`);
    const now = () => Math.floor(Date.now() / 1000);
    socket.send({ type: "command_response", success: true, sessionId: "dock-s", status: "running", container: { id: "c1" }, timestamp: now() });
    socket.send({ type: "command_response", success: true, sessionId: "dock-s", status: "terminated", timestamp: now() });
    const stop = await waitFor("the stop completed", async () => {
      const row = await getCommand("cmd-dock-stop");
      return row?.status === "completed" ? row : undefined;
    });
    expect(stop.result).toMatchObject({ state: "terminated" });
    expect((await getSessionRow("dock-s"))?.state).toBe("terminated");
    expect((await getCommand("cmd-dock-start"))?.status).toBe("cancelled");
    socket.close();
  });
});
