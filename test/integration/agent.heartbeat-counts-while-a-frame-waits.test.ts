/**
 * A heartbeat counts for liveness when it arrives, even while an earlier frame's write waits on
 * the database: otherwise a database slow for 15 s behind one `complete` got a live agent closed
 * as silent (45 s after the heartbeat before) and marked offline; docker-agent never reconnects.
 * The `complete` here waits on a row lock the test holds.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { afterAll, describe, inject, it } from "vitest";
import type { AgentObject } from "../../src/agent/agent-object";
import { readAttachment } from "../../src/agent/attachment";
import { createDb } from "../../src/db/client";
import { transaction } from "../../src/db/transaction";
import { getCommand, makeAgent, query, testDbOptions, waitFor, waitForLockWaiter } from "../helpers/db";
import { connectAgent } from "../helpers/ws";

const lastSeen = (agentId: string) =>
  runInDurableObject(env.AGENT.getByName(agentId), (_o: AgentObject, state) => {
    const open = state.getWebSockets().find((ws) => ws.readyState === WebSocket.OPEN);
    return open ? readAttachment(open)!.heartbeat.seen : 0;
  });

// Holds a transaction open while the agent's frames run: embedded PGlite, one session, lets one
// transaction through at a time, so the frames would wait for the test and the test for them.
describe.skipIf(!inject("concurrentSessions"))("a heartbeat behind a frame whose write waits on the database", () => {
  const handle = createDb(testDbOptions());
  afterAll(() => handle.end());

  it("counts when it arrives, not when the frame before it is written", async () => {
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    await query(sql`insert into agent_commands (command_id, agent_id, action, status) values ('cmd-slow', ${agentId}, 'stop_session', 'ack')`);

    await transaction(handle.db, async (tx) => {
      await tx.execute(sql`select 1 from agent_commands where command_id = 'cmd-slow' for update`);
      socket.send({ type: "complete", payload: { commandId: "cmd-slow", result: {} } });
      await waitForLockWaiter("the complete's write waiting on the lock");
      const sent = Date.now();
      socket.send({ type: "heartbeat", payload: { status: "online", activeSessions: 0 } });
      // Before the fix the heartbeat waited its turn behind the complete, so this timed out.
      await waitFor("the heartbeat counted", async () => ((await lastSeen(agentId)) >= sent ? true : undefined), 3000);
    });
    // The lock is gone: the complete lands.
    await waitFor("complete applied", async () => ((await getCommand("cmd-slow"))?.status === "completed" ? true : undefined));
    socket.close();
  });
});
