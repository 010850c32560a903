/**
 * A docker-agent reply kept for a retry keeps the command it was matched to. Its write may have
 * committed though no answer came (a lost connection at COMMIT); matched again on the retry, it
 * answered the session's next command in its place: a hibernate's failure failed the user's
 * stop. Here the write is cancelled while it waits on a lock the test holds, and the test then
 * finishes the hibernate itself, as the lost commit would have.
 */
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createDb } from "../../src/db/client";
import { transaction } from "../../src/db/transaction";
import { getCommand, makeAgent, query, testDbOptions, waitFor, waitForLockWaiter } from "../helpers/db";
import { connectAgent } from "../helpers/ws";

// Holds a transaction open while the frame's write waits: embedded PGlite lets one through at a time.
describe.skipIf(!inject("concurrentSessions"))("a docker-agent reply kept for a retry", () => {
  const handle = createDb(testDbOptions());
  afterAll(() => handle.end());

  it("is applied again to the command it was first matched to, not the session's next one", async () => {
    const { agentId, apiKey } = await makeAgent({ platform: "docker" });
    const socket = await connectAgent(agentId, apiKey);
    await query(sql`insert into sessions (id, user_id, state, agent_id) values ('dock-kept', 'u', 'terminating', ${agentId})`);
    await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status, created_at) values
      ('cmd-kept-hibernate', ${agentId}, 'dock-kept', 'hibernate_session', 'sent', now() - interval '2 minutes'),
      ('cmd-kept-stop', ${agentId}, 'dock-kept', 'stop_session', 'sent', now() - interval '1 minute'),
      ('cmd-kept-later', ${agentId}, null, 'stop_session', 'sent', now())`);
    const now = () => Math.floor(Date.now() / 1000);

    await transaction(handle.db, async (tx) => {
      await tx.execute(sql`select 1 from agent_commands where command_id = 'cmd-kept-hibernate' for update`);
      socket.send({ type: "command_response", success: false, sessionId: "dock-kept", error: "hibernate failed", timestamp: now() });
      const pid = await waitForLockWaiter("the reply's write waiting on the lock");
      await query(sql`select pg_cancel_backend(${pid})`);
      // As if the cancelled write had committed after all.
      await tx.execute(sql`update agent_commands set status = 'failed', error_message = 'hibernate failed' where command_id = 'cmd-kept-hibernate'`);
    });
    // A frame behind the kept one: once applied, the kept one was applied before it.
    socket.send({ type: "command_error", commandId: "cmd-kept-later", error: "later", timestamp: now() });
    await waitFor("the later frame applied", async () => ((await getCommand("cmd-kept-later"))?.status === "failed" ? true : undefined), 10_000);
    expect((await getCommand("cmd-kept-stop"))?.status).toBe("sent");
    socket.close();
  });
});
