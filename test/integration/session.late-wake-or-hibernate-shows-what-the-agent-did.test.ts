/**
 * A wake or hibernate that ended here (expired, cancelled, or failed for lack of an answer) and
 * that the agent then reports as run: the session shows what the agent did. Its session had gone
 * back to where the command left it from, and nothing moved it again: a session showing
 * `hibernated` while its pod ran (or `running`, with its old url, while scaled to zero) until
 * its user happened to act. Not when another command of the session is open (that action
 * decides), nor when the answer reports another state than the command's. A docker-agent reply
 * names the session, not the command: it answers the session's last command, when that is a wake
 * or hibernate that ended here.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getSessionRow, makeAgent, query, waitFor } from "../helpers/db";
import { connectAgent } from "../helpers/ws";
import type { AgentSocket } from "../helpers/ws";

async function endedCommand(agentId: string, sessionId: string, state: string, action: string, status: string): Promise<string> {
  await query(sql`insert into sessions (id, user_id, state, agent_id, pod_name, url)
    values (${sessionId}, 'u', ${state}, ${agentId}, ${state === "running" ? "pod-old" : ""}, ${state === "running" ? `/api/v1/sessions/${sessionId}/vnc` : ""})`);
  const commandId = `cmd-${sessionId}`;
  await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status, attempts, sent_at, created_at)
    values (${commandId}, ${agentId}, ${sessionId}, ${action}, ${status}, 1, now() - interval '20 minutes', now() - interval '20 minutes')`);
  return commandId;
}

/** Waits until the frames sent on `socket` so far are applied: a marker command's `complete`, sent after them, is. */
async function framesApplied(socket: AgentSocket, agentId: string, marker: string) {
  await query(sql`insert into agent_commands (command_id, agent_id, action, status) values (${marker}, ${agentId}, 'stop_session', 'ack')`);
  socket.send({ type: "complete", payload: { commandId: marker } });
  await waitFor("the frames applied", async () => {
    const [row] = await query<{ status: string }>(sql`select status from agent_commands where command_id = ${marker}`);
    return row?.status === "completed" ? true : undefined;
  });
}

/** Sends `complete` for `commandId`, then waits until it is applied. */
async function completeLate(socket: AgentSocket, agentId: string, commandId: string, result: Record<string, unknown>) {
  socket.send({ type: "complete", payload: { commandId, result } });
  await framesApplied(socket, agentId, `marker-${commandId}`);
}

/**
 * A session in `state` whose `action` ended `status` here, the agent's late `complete` of it with
 * `result` (after `meanwhile`, if given), and the session row as that left it.
 */
async function afterLateAnswer(
  sessionId: string,
  ended: { state: string; action: string; status: string },
  result: Record<string, unknown>,
  meanwhile?: (agentId: string) => Promise<unknown>,
) {
  const { agentId, apiKey } = await makeAgent();
  const socket = await connectAgent(agentId, apiKey);
  try {
    const commandId = await endedCommand(agentId, sessionId, ended.state, ended.action, ended.status);
    await meanwhile?.(agentId);
    await completeLate(socket, agentId, commandId, { sessionId, ...result });
    return await getSessionRow(sessionId);
  } finally {
    socket.close();
  }
}

describe("a wake or hibernate the agent ran after it ended here", () => {
  it("brings a hibernated session's wake to running, with the pod and url it reports", async () => {
    const row = await afterLateAnswer("late-wake", { state: "hibernated", action: "wake_session", status: "expired" }, { state: "running", podName: "pod-9", vncPort: 3000 });
    expect(row).toMatchObject({ state: "running", pod_name: "pod-9", url: "/api/v1/sessions/late-wake/vnc" });
  });

  it("brings a running session's hibernate to hibernated, without a pod or url", async () => {
    const row = await afterLateAnswer("late-hibernate", { state: "running", action: "hibernate_session", status: "cancelled" }, { state: "hibernated" });
    expect(row).toMatchObject({ state: "hibernated", pod_name: "", url: "" });
  });

  it("leaves the session alone when the answer reports another state than the command's", async () => {
    const row = await afterLateAnswer("late-wake-not-up", { state: "hibernated", action: "wake_session", status: "expired" }, { state: "hibernated", vncPort: 3000 });
    expect(row).toMatchObject({ state: "hibernated", url: "" });
  });

  it("leaves the session alone while another command of it is open", async () => {
    const row = await afterLateAnswer(
      "late-wake-busy",
      { state: "hibernated", action: "wake_session", status: "failed" },
      { state: "running", podName: "pod-9" },
      (agentId) => query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status)
        values ('cmd-late-wake-busy-next', ${agentId}, 'late-wake-busy', 'stop_session', 'ack')`),
    );
    expect(row).toMatchObject({ state: "hibernated", pod_name: "" });
  });

  /** A docker-agent's reply that `sessionId` reached `status`, and the session row as that left it. */
  async function afterDockerReply(agentId: string, apiKey: string, sessionId: string, status: string) {
    const socket = await connectAgent(agentId, apiKey);
    try {
      socket.send({ type: "command_response", success: true, sessionId, status, timestamp: Math.floor(Date.now() / 1000) });
      await framesApplied(socket, agentId, `marker-${sessionId}`);
      return await getSessionRow(sessionId);
    } finally {
      socket.close();
    }
  }

  async function stopsOf(sessionId: string): Promise<number | undefined> {
    const [row] = await query<{ n: number }>(sql`select count(*)::int as n from agent_commands where session_id = ${sessionId} and action = 'stop_session'`);
    return row?.n;
  }

  it("brings a session to the state a docker agent's reply reports for its last command, a hibernate that ended here", async () => {
    const { agentId, apiKey } = await makeAgent({ platform: "docker" });
    await endedCommand(agentId, "late-dock-hibernate", "running", "hibernate_session", "cancelled");
    const row = await afterDockerReply(agentId, apiKey, "late-dock-hibernate", "hibernated");
    expect(row).toMatchObject({ state: "hibernated", pod_name: "", url: "" });
  });

  it("brings a hibernated session to running on a docker agent's reply for its last command, a wake that expired", async () => {
    const { agentId, apiKey } = await makeAgent({ platform: "docker" });
    await endedCommand(agentId, "late-dock-wake", "hibernated", "wake_session", "expired");
    const row = await afterDockerReply(agentId, apiKey, "late-dock-wake", "running");
    expect(row).toMatchObject({ state: "running" });
    // Not stopped again: the reply was the wake's, and the session runs.
    expect(await stopsOf("late-dock-wake")).toBe(0);
  });

  it("stops a terminated session's container again on a docker agent's reply for its last command, a wake that ended here", async () => {
    const { agentId, apiKey } = await makeAgent({ platform: "docker" });
    await endedCommand(agentId, "late-dock-ended", "terminated", "wake_session", "cancelled");
    const row = await afterDockerReply(agentId, apiKey, "late-dock-ended", "running");
    expect(row).toMatchObject({ state: "terminated" });
    expect(await stopsOf("late-dock-ended")).toBe(1);
  });

  it("leaves the session alone when a docker agent's reply matches an ended command that is not its last", async () => {
    const { agentId, apiKey } = await makeAgent({ platform: "docker" });
    // The hibernate expired; another one then ran, and a wake after it: the reply is the old one's.
    await endedCommand(agentId, "late-dock-old", "running", "hibernate_session", "expired");
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status, attempts, sent_at, created_at) values
      ('cmd-late-dock-old-2', ${agentId}, 'late-dock-old', 'hibernate_session', 'completed', 1, now() - interval '10 minutes', now() - interval '10 minutes'),
      ('cmd-late-dock-old-3', ${agentId}, 'late-dock-old', 'wake_session', 'completed', 1, now() - interval '5 minutes', now() - interval '5 minutes')`);
    const row = await afterDockerReply(agentId, apiKey, "late-dock-old", "hibernated");
    expect(row).toMatchObject({ state: "running", pod_name: "pod-old" });
  });
});
