/**
 * The agent answering a command leaves the lease of an older one it never answered (lost on its
 * way, or its answer lost): that lease must run out for the command to be sent again, or failed.
 * The answer restarts the lease of the next command only, the one the agent starts now
 * (migration 0018); restarted on every answer, the lost one stayed `sent` for as long as the
 * agent kept busy.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { runSweepNow } from "../helpers/cron";
import { getCommand, makeAgent, query, waitFor } from "../helpers/db";
import { connectAgent } from "../helpers/ws";

type Lease = { lease_expires_at: Date | null };

async function leaseOf(commandId: string): Promise<number> {
  const [row] = await query<Lease>(sql`select lease_expires_at from agent_commands where command_id = ${commandId}`);
  return new Date(row!.lease_expires_at!).getTime();
}

describe("an answer behind a lost command", () => {
  it("leaves the lost command's lease to run out, and restarts the next one's", async () => {
    const { agentId, apiKey } = await makeAgent();
    for (const id of ["cmd-lost-head", "cmd-answered", "cmd-next"]) {
      await query(sql`insert into agent_commands (command_id, agent_id, action) values (${id}, ${agentId}, 'stop_session')`);
    }
    const socket = await connectAgent(agentId, apiKey);
    for (const id of ["cmd-lost-head", "cmd-answered", "cmd-next"]) expect((await socket.nextFrame()).payload.commandId).toBe(id);
    await query(sql`update agent_commands set lease_expires_at = now() - interval '1 second' where command_id in ('cmd-lost-head', 'cmd-next')`);

    const beforeAnswer = Date.now();
    socket.send({ type: "ack", payload: { commandId: "cmd-answered" } });
    socket.send({ type: "complete", payload: { commandId: "cmd-answered" } });
    await waitFor("answered", async () => ((await getCommand("cmd-answered"))?.status === "completed" ? true : undefined));

    expect(await leaseOf("cmd-lost-head")).toBeLessThan(beforeAnswer);
    expect(await leaseOf("cmd-next")).toBeGreaterThan(beforeAnswer + 50_000); // the 60 s ack lease
    expect((await runSweepNow()).redelivering).toBe(1);
    expect(await getCommand("cmd-lost-head")).toMatchObject({ status: "pending", attempts: 1 });
    socket.close();
  });

  it("leaves the lost command's lease when the answered one has no record of its sending (it went out by now)", async () => {
    const { agentId } = await makeAgent();
    await query(sql`insert into agent_commands (command_id, agent_id, action, status, sent_at, lease_expires_at)
      values ('cmd-lost-unrecorded', ${agentId}, 'stop_session', 'sent', now() - interval '2 minutes', now() - interval '1 minute')`);
    // Pushed, its record lost: still pending, no sent_at, when its answer comes.
    await query(sql`insert into agent_commands (command_id, agent_id, action) values ('cmd-answered-unrecorded', ${agentId}, 'stop_session')`);
    const beforeAnswer = Date.now();
    await query(sql`select finish_agent_command(${agentId}, 'cmd-answered-unrecorded', 'completed', null, null, '{}'::jsonb, null, 60, 900)`);
    expect(await getCommand("cmd-answered-unrecorded")).toMatchObject({ status: "completed" });
    expect(await leaseOf("cmd-lost-unrecorded")).toBeLessThan(beforeAnswer);
  });

  it("restarts the lease of an older command sent again after the one answered: it is behind it at the agent", async () => {
    const { agentId, apiKey } = await makeAgent();
    for (const id of ["cmd-resent", "cmd-answered-first"]) {
      await query(sql`insert into agent_commands (command_id, agent_id, action) values (${id}, ${agentId}, 'stop_session')`);
    }
    const socket = await connectAgent(agentId, apiKey);
    for (const id of ["cmd-resent", "cmd-answered-first"]) expect((await socket.nextFrame()).payload.commandId).toBe(id);
    // Its lease ran out and it went out again, after the other.
    await query(sql`update agent_commands set sent_at = now() + interval '1 second', lease_expires_at = now() - interval '1 second' where command_id = 'cmd-resent'`);

    const beforeAnswer = Date.now();
    socket.send({ type: "ack", payload: { commandId: "cmd-answered-first" } });
    socket.send({ type: "complete", payload: { commandId: "cmd-answered-first" } });
    await waitFor("answered", async () => ((await getCommand("cmd-answered-first"))?.status === "completed" ? true : undefined));
    expect(await leaseOf("cmd-resent")).toBeGreaterThan(beforeAnswer + 50_000);
    socket.close();
  });
});
