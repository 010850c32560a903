/**
 * An agent's commands go out in the order of their created_at, and that is the order they commit
 * in, whichever paths wrote them: a write that places a command in the agent's queue waits for a
 * transaction that holds the agent (migration 0025). Before, a command of one session written by
 * hand and an administrator's command for another session could commit in either order, and the
 * newer one, committed first, was pushed first. The races are made deterministic: the test holds
 * its transaction open until the request is seen waiting on it.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { transaction } from "../../src/db/transaction";
import { query, waitForLockWaiter, withDb } from "../helpers/db";
import type { TestAgent } from "../helpers/db";
import { call, tokenFor } from "../helpers/http";
import { agentReadyFor } from "../helpers/ws";
import type { AgentSocket } from "../helpers/ws";

/** Whether `first`'s created_at is before `second`'s. */
async function createdBefore(first: string, second: string): Promise<boolean> {
  const [row] = await query<{ before: boolean }>(sql`select a.created_at < b.created_at as before
    from agent_commands a, agent_commands b where a.command_id = ${first} and b.command_id = ${second}`);
  return row!.before;
}

// The test's transaction and the request's run at once: embedded PGlite lets one transaction
// through at a time.
describe.skipIf(!inject("concurrentSessions"))("commands of different sessions of one agent", () => {
  let agent: TestAgent;
  let socket: AgentSocket;
  beforeAll(async () => {
    ({ agent, socket } = await agentReadyFor("desktop"));
  });
  afterAll(() => socket.close());

  type Tx = Parameters<Parameters<typeof transaction>[1]>[0];

  /**
   * Makes `request` while the test's transaction runs `before`, waits until the request waits for
   * it, runs `after`, commits, and answers the request's response.
   */
  async function whileHeld(request: () => Promise<Response>, hold: { before: (tx: Tx) => Promise<unknown>; after?: (tx: Tx) => Promise<unknown> }) {
    // Wrapped, so that leaving the transaction (its commit) does not wait for the request.
    const { response } = await withDb((db) =>
      transaction(db, async (tx) => {
        await hold.before(tx);
        const response = request();
        await waitForLockWaiter("the request waiting for the held agent", { on: "agent_commands", timeoutMs: 10_000 });
        await hold.after?.(tx);
        return { response };
      }),
    );
    return response;
  }

  /** An administrator's command for the agent, asked for while `hold` runs; its id. */
  async function adminCommandWhileHeld(sessionId: string, hold: Parameters<typeof whileHeld>[1]) {
    const admin = await tokenFor("root", { admin: true });
    const path = `/api/v1/admin/agents/${agent.agentId}/command`;
    const res = await whileHeld(() => call("POST", path, { token: admin, body: { action: "stop_session", sessionId } }), hold);
    expect(res.status).toBe(201);
    return ((await res.json()) as { commandId: string }).commandId;
  }

  const byHand = (db: Pick<Tx, "execute">, commandId: string, sessionId: string | null, status = "pending") =>
    db.execute(sql`insert into agent_commands (command_id, agent_id, session_id, action, status, payload)
      values (${commandId}, ${agent.agentId}, ${sessionId}, 'stop_session', ${status}, ${JSON.stringify({ sessionId })}::jsonb)`);

  it("go out in commit order when one is written by hand while another path writes the other", async () => {
    const admins = await adminCommandWhileHeld("session-b", { before: (tx) => byHand(tx, "cmd-by-hand-first", "session-a") });
    expect(await createdBefore("cmd-by-hand-first", admins)).toBe(true);
    expect((await socket.nextFrame()).payload.commandId).toBe("cmd-by-hand-first");
    expect((await socket.nextFrame()).payload.commandId).toBe(admins);
  });

  it("place a command that waited for the agent behind the one written meanwhile, not at the time its write began", async () => {
    // The test holds the agent's row, as a session create does, and writes its command only once
    // the administrator's command waits: that one's time was first set before it waited.
    const admins = await adminCommandWhileHeld("session-d", {
      before: (tx) => tx.execute(sql`select 1 from agents where agent_id = ${agent.agentId} for no key update`),
      after: (tx) => byHand(tx, "cmd-written-while-held", "session-c"),
    });
    expect(await createdBefore("cmd-written-while-held", admins)).toBe(true);
    expect((await socket.nextFrame()).payload.commandId).toBe("cmd-written-while-held");
    expect((await socket.nextFrame()).payload.commandId).toBe(admins);
  });

  it("place a retried command that waited for the agent behind the one written meanwhile", async () => {
    await withDb((db) => byHand(db, "cmd-failed-earlier", null, "failed"));
    const admin = await tokenFor("root", { admin: true });
    const res = await whileHeld(() => call("POST", "/api/v1/admin/commands/cmd-failed-earlier/retry", { token: admin }), {
      before: (tx) => tx.execute(sql`select 1 from agents where agent_id = ${agent.agentId} for no key update`),
      after: (tx) => byHand(tx, "cmd-written-while-retry-waited", "session-e"),
    });
    expect(res.status).toBe(200);
    expect(await createdBefore("cmd-written-while-retry-waited", "cmd-failed-earlier")).toBe(true);
    expect((await socket.nextFrame()).payload.commandId).toBe("cmd-written-while-retry-waited");
    expect((await socket.nextFrame()).payload.commandId).toBe("cmd-failed-earlier");
  });
});
