/**
 * docker-agent answers a stop of a session whose container is gone (removed by hand, lost with
 * its host) with a failure: `Container not found: container not found for session: <id>`. There
 * is nothing left to stop, so the session ends `terminated` (a stop sent again would fail the
 * same way for ever). The command keeps the agent's answer. Any other failed stop, including the
 * daemon failing to list containers, leaves the session `terminating` for a stop sent again.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getCommand, getSessionRow, makeAgent, query, waitFor } from "../helpers/db";
import { connectAgent } from "../helpers/ws";

async function stopAnsweredWith(sessionId: string, error: string) {
  const { agentId, apiKey } = await makeAgent({ platform: "docker" });
  const socket = await connectAgent(agentId, apiKey);
  await query(sql`insert into sessions (id, user_id, state, agent_id) values (${sessionId}, 'u', 'terminating', ${agentId})`);
  const commandId = `cmd-${sessionId}`;
  await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status)
    values (${commandId}, ${agentId}, ${sessionId}, 'stop_session', 'sent')`);
  socket.send({ type: "command_response", success: false, sessionId, error, timestamp: Math.floor(Date.now() / 1000) });
  const command = await waitFor("the stop failed", async () => {
    const row = await getCommand(commandId);
    return row?.status === "failed" ? row : undefined;
  });
  socket.close();
  return { command, session: await getSessionRow(sessionId) };
}

describe("a docker stop of a container that is not there", () => {
  it("ends the session, and the command keeps the agent's answer", async () => {
    const error = "Container not found: container not found for session: gone-s";
    const { command, session } = await stopAnsweredWith("gone-s", error);
    expect(command.error_message).toBe(error);
    expect(session?.state).toBe("terminated");
  });

  it("leaves the session terminating when the daemon could not look", async () => {
    const error = "Container not found: failed to list containers: Cannot connect to the Docker daemon";
    const { session } = await stopAnsweredWith("unlisted-s", error);
    expect(session?.state).toBe("terminating");
  });

  it("leaves the session terminating when the container would not stop", async () => {
    const { session } = await stopAnsweredWith("stuck-s", "Failed to stop container: context deadline exceeded");
    expect(session?.state).toBe("terminating");
  });
});
