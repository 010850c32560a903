import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { sweepChangedAnything } from "../../src/sweep/sweep";
import { runSweepNow } from "../helpers/cron";
import { getAgentRow, getSessionRow, makeAgent, query } from "../helpers/db";
import { connectAgent } from "../helpers/ws";

describe("the sweep's maintenance", () => {
  it("marks an agent offline whose heartbeat went stale with no socket, but not one whose socket is alive", async () => {
    const ghost = await makeAgent();
    const live = await makeAgent();
    const socket = await connectAgent(live.agentId, live.apiKey);
    await query(sql`update agents set status = 'online', last_heartbeat = now() - interval '5 minutes'
      where agent_id in (${ghost.agentId}, ${live.agentId})`);
    const result = await runSweepNow();
    expect(result.agentsOffline).toBe(1);
    expect((await getAgentRow(ghost.agentId))?.status).toBe("offline");
    const alive = await getAgentRow(live.agentId);
    expect(alive?.status).toBe("online");
    expect(Date.now() - new Date(alive!.last_heartbeat!).getTime()).toBeLessThan(10_000); // the DO re-asserted it
    socket.close();
  });

  it("retries a stop once for a session stuck terminating whose agent is online (checklist 50)", async () => {
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    await query(sql`insert into sessions (id, user_id, state, agent_id, updated_at) values ('stuck-t', 'u', 'terminating', ${agentId}, now() - interval '6 minutes')`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status) values ('cmd-first-stop', ${agentId}, 'stuck-t', 'stop_session', 'completed')`);
    const [first, second] = [await runSweepNow(), await runSweepNow()];
    expect([first.stopsRetried, second.stopsRetried]).toEqual([1, 0]);
    const frame = await socket.nextFrame();
    expect(frame.payload).toMatchObject({ action: "stop_session", payload: { sessionId: "stuck-t", deletePVC: false } });
    socket.close();
  });

  it("retries the stuck stop although the session had a stop before it became terminating", async () => {
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    // A stop that removed the pod of a start run after it failed; then the user's DELETE, whose stop failed.
    await query(sql`insert into sessions (id, user_id, state, agent_id, updated_at) values ('stuck-after-cleanup', 'u', 'terminating', ${agentId}, now() - interval '6 minutes')`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status, created_at) values
      ('cmd-cleanup-stop', ${agentId}, 'stuck-after-cleanup', 'stop_session', 'completed', now() - interval '20 minutes'),
      ('cmd-user-stop', ${agentId}, 'stuck-after-cleanup', 'stop_session', 'failed', now() - interval '6 minutes')`);
    expect((await runSweepNow()).stopsRetried).toBe(1);
    expect((await socket.nextFrame()).payload).toMatchObject({ action: "stop_session", payload: { sessionId: "stuck-after-cleanup" } });
    expect((await runSweepNow()).stopsRetried).toBe(0);
    socket.close();
  });

  it("gives up on sessions whose agent has been gone for 10 minutes: terminating → terminated, pending → failed", async () => {
    const { agentId } = await makeAgent();
    await query(sql`update agents set last_heartbeat = now() - interval '11 minutes' where agent_id = ${agentId}`);
    await query(sql`insert into sessions (id, user_id, state, agent_id, updated_at) values
      ('gone-t', 'u', 'terminating', ${agentId}, now() - interval '11 minutes'),
      ('gone-p', 'u', 'pending', ${agentId}, now() - interval '11 minutes'),
      ('recent-p', 'u', 'pending', ${agentId}, now() - interval '2 minutes'),
      ('orphan-t', 'u', 'terminating', null, now() - interval '11 minutes')`);
    const result = await runSweepNow();
    expect(result).toMatchObject({ sessionsTerminated: 2, sessionsFailed: 1 });
    const terminated = await query<Record<string, unknown>>(sql`select state, termination_reason, terminated_at from sessions where id = 'gone-t'`);
    expect(terminated[0]).toMatchObject({ state: "terminated", termination_reason: "agent_unavailable" });
    expect(terminated[0]?.["terminated_at"]).not.toBeNull();
    expect((await getSessionRow("gone-p"))?.state).toBe("failed");
    expect((await getSessionRow("recent-p"))?.state).toBe("pending");
    expect((await getSessionRow("orphan-t"))?.state).toBe("terminated");
  });

  it("deletes finished commands past retention in bounded batches and keeps everything else", async () => {
    const { agentId } = await makeAgent();
    await query(sql`insert into agent_commands (command_id, agent_id, action, status, updated_at)
      select 'old-' || g, ${agentId}, 'stop_session', (array['completed','failed','expired','cancelled'])[1 + g % 4], now() - interval '31 days'
      from generate_series(1, 1200) g`);
    await query(sql`insert into agent_commands (command_id, agent_id, action, status, updated_at) values
      ('old-pending', ${agentId}, 'stop_session', 'pending', now() - interval '40 days'),
      ('young-done', ${agentId}, 'stop_session', 'completed', now() - interval '29 days')`);
    const result = await runSweepNow();
    expect(result.deleted).toBe(1200);
    const left = await query<{ command_id: string }>(sql`select command_id from agent_commands where agent_id = ${agentId} order by command_id`);
    expect(left.map((r) => r.command_id)).toEqual(["old-pending", "young-done"]);
  });

  it("reports counts, and only asks for a log line when something changed", async () => {
    const idle = await runSweepNow();
    expect(idle.complete).toBe(true);
    expect(sweepChangedAnything(idle)).toBe(false);
    expect(sweepChangedAnything({ ...idle, expired: 1 })).toBe(true);
  });
});
