/**
 * When the sweep gives up on a pending session because its agent has been gone for 10 minutes,
 * the session's start command is cancelled with it: an agent coming back later is not sent a
 * start for a session that has failed. A stop for a session given up on still goes out, since
 * what it was to stop may still be running.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { runSweepNow } from "../helpers/cron";
import { getCommand, getSessionRow, makeAgent, query } from "../helpers/db";

describe("giving up on a pending session", () => {
  it("cancels its start command, pending or in flight, and leaves a stop and other sessions' commands alone", async () => {
    const { agentId } = await makeAgent();
    await query(sql`update agents set status = 'offline', last_heartbeat = now() - interval '11 minutes' where agent_id = ${agentId}`);
    await query(sql`insert into sessions (id, user_id, state, agent_id, updated_at) values
      ('gone-start-1', 'u', 'pending', ${agentId}, now() - interval '11 minutes'),
      ('gone-start-2', 'u', 'pending', ${agentId}, now() - interval '11 minutes'),
      ('gone-stop', 'u', 'terminating', ${agentId}, now() - interval '11 minutes'),
      ('young-start', 'u', 'pending', ${agentId}, now() - interval '1 minute')`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status, lease_expires_at) values
      ('cmd-gone-start-1', ${agentId}, 'gone-start-1', 'start_session', 'pending', null),
      ('cmd-gone-start-2', ${agentId}, 'gone-start-2', 'start_session', 'ack', now() + interval '10 minutes'),
      ('cmd-gone-stop', ${agentId}, 'gone-stop', 'stop_session', 'pending', null),
      ('cmd-young-start', ${agentId}, 'young-start', 'start_session', 'pending', null)`);

    const result = await runSweepNow();
    expect(result).toMatchObject({ sessionsFailed: 2, sessionsTerminated: 1 });
    expect((await getSessionRow("gone-start-1"))?.state).toBe("failed");
    for (const id of ["cmd-gone-start-1", "cmd-gone-start-2"]) {
      const cmd = await getCommand(id);
      expect(cmd?.status).toBe("cancelled");
      expect(cmd?.error_message).toMatch(/agent was gone/);
    }
    expect((await getCommand("cmd-gone-stop"))?.status).toBe("pending");
    expect((await getCommand("cmd-young-start"))?.status).toBe("pending");
    expect((await getSessionRow("gone-stop"))?.state).toBe("terminated");
  });
});
