/**
 * A statement Postgres cancels (a statement or lock timeout set on the role, an operator's
 * pg_cancel_backend) rolled its work back: a request answers 503 `Statement cancelled`, retry it,
 * and an agent's frame is kept and applied again, as during an outage. Both used to be treated as
 * bugs: a 500, and a `complete` logged and dropped, its command left running until its lease ran
 * out. Here the statement waits on a row lock the test holds, and the test cancels it.
 */
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createDb } from "../../src/db/client";
import { transaction } from "../../src/db/transaction";
import { getCommand, makeAgent, query, testDbOptions, waitFor, waitForLockWaiter } from "../helpers/db";
import { call } from "../helpers/http";
import { connectAgent } from "../helpers/ws";

/** Cancels the statement waiting on a lock (there is one: the request's or the frame's). */
async function cancelTheWaitingStatement(): Promise<void> {
  const pid = await waitForLockWaiter("a statement waiting on the lock");
  await query(sql`select pg_cancel_backend(${pid})`);
}

// Holds a transaction open while the request runs: embedded PGlite lets one through at a time.
describe.skipIf(!inject("concurrentSessions"))("a statement Postgres cancels", () => {
  const handle = createDb(testDbOptions());
  afterAll(() => handle.end());

  it("answers the request 503 Statement cancelled, with nothing written", async () => {
    const { agentId } = await makeAgent();
    const answer = await transaction(handle.db, async (tx) => {
      await tx.execute(sql`select 1 from agents where agent_id = ${agentId} for update`);
      const pending = call("POST", "/api/v1/agents/register", {
        headers: { "X-Agent-API-Key": env.AGENT_BOOTSTRAP_KEY },
        body: { agentId, platform: "kubernetes", region: "cancelled-region" },
      });
      await cancelTheWaitingStatement();
      return pending;
    });
    expect(answer.status).toBe(503);
    expect(await answer.json()).toMatchObject({ error: "Statement cancelled", code: "unavailable", message: expect.stringMatching(/Retry it/) });
    const [row] = await query<{ region: string }>(sql`select region from agents where agent_id = ${agentId}`);
    expect(row?.region).not.toBe("cancelled-region");
  });

  it("keeps an agent's frame and applies it again", async () => {
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    await query(sql`insert into agent_commands (command_id, agent_id, action, status) values ('cmd-cancelled-write', ${agentId}, 'stop_session', 'ack')`);
    await transaction(handle.db, async (tx) => {
      await tx.execute(sql`select 1 from agent_commands where command_id = 'cmd-cancelled-write' for update`);
      socket.send({ type: "complete", payload: { commandId: "cmd-cancelled-write", result: {} } });
      await cancelTheWaitingStatement();
    });
    await waitFor("the kept complete applied", async () => ((await getCommand("cmd-cancelled-write"))?.status === "completed" ? true : undefined));
    socket.close();
  });
});
