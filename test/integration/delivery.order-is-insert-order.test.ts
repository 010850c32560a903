/**
 * An agent's commands go out in the order they were inserted, not the order their transactions
 * began: a DELETE whose transaction waited behind a hibernate of the same session (the session's
 * row lock) is inserted after it and must reach the agent after it.
 */
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createDb } from "../../src/db/client";
import { transaction } from "../../src/db/transaction";
import { makeAgent, query, testDbOptions } from "../helpers/db";
import { connectAgent } from "../helpers/ws";

// Commits one transaction while another is open: embedded PGlite, one session, lets one
// transaction through at a time.
describe.skipIf(!inject("concurrentSessions"))("a command whose transaction began before another's but inserted after it", () => {
  const handle = createDb(testDbOptions());
  afterAll(() => handle.end());

  it("reaches the agent after the other", async () => {
    const { agentId, apiKey } = await makeAgent();
    await transaction(handle.db, async (tx) => {
      await tx.execute(sql`select 1`); // the transaction has begun
      // Meanwhile another request inserts and commits its command.
      await query(sql`insert into agent_commands (command_id, agent_id, action) values ('cmd-first-in', ${agentId}, 'hibernate_session')`);
      await tx.execute(sql`insert into agent_commands (command_id, agent_id, action) values ('cmd-second-in', ${agentId}, 'stop_session')`);
    });
    const socket = await connectAgent(agentId, apiKey);
    const order = [(await socket.nextFrame()).payload.commandId, (await socket.nextFrame()).payload.commandId];
    expect(order).toEqual(["cmd-first-in", "cmd-second-in"]);
    socket.close();
  });
});
