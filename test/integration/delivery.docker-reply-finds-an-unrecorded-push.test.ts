/**
 * A docker-agent reply that a start reached `running` settles the session's start even when that
 * start is still `pending` here: pushed, its `sent` record failed, and the object forgot it
 * (hibernated, or the socket was replaced); or put back after its lease ran out, and this is the
 * late answer. It used to be matched to nothing and dropped: the start was sent again, which
 * docker-agent fails (the container's name is taken), and the session ended `failed` while its
 * container ran. A failure reply is matched only among commands recorded `sent`.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getCommand, getSessionRow, makeAgent, query, waitFor } from "../helpers/db";
import { connectAgent } from "../helpers/ws";

describe("a docker-agent reply for a start still pending here", () => {
  it("completes it, and its session runs", async () => {
    const { agentId, apiKey } = await makeAgent({ platform: "docker" });
    const socket = await connectAgent(agentId, apiKey);
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('dock-unrecorded', 'u', 'pending', ${agentId}), ('dock-unsent', 'u', 'pending', ${agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status) values
      ('cmd-unrecorded', ${agentId}, 'dock-unrecorded', 'start_session', 'pending'),
      ('cmd-unsent', ${agentId}, 'dock-unsent', 'start_session', 'pending')`);
    const now = () => Math.floor(Date.now() / 1000);
    socket.send({ type: "command_response", success: true, sessionId: "dock-unrecorded", status: "running", container: { id: "c9" }, timestamp: now() });
    // A failure names no state: it is not matched to a start still pending, and the later frame shows both were applied.
    socket.send({ type: "command_response", success: false, sessionId: "dock-unsent", error: "boom", timestamp: now() });
    socket.send({ type: "command_response", success: true, sessionId: "dock-unsent", status: "running", timestamp: now() });
    await waitFor("the second start completed", async () => ((await getCommand("cmd-unsent"))?.status === "completed" ? true : undefined));
    expect(await getCommand("cmd-unrecorded")).toMatchObject({ status: "completed", result: { state: "running", container: { id: "c9" } } });
    expect((await getSessionRow("dock-unrecorded"))?.state).toBe("running");
    socket.close();
  });
});
