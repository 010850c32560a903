/**
 * A create takes the agent it picks when it picks it, and passes over an agent another
 * transaction holds (migration 0026). Before, creates at the same moment all read the same
 * least-loaded agent, then queued on its row for its load counter, one after the other, and all
 * landed on it. The test's transaction plays a create in flight: it holds the agent's row, as a
 * create does from its pick to its commit.
 */
import { sql } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { transaction } from "../../src/db/transaction";
import { getAgentRow, makeAgent, makeTemplate, query, waitFor, waitForLockWaiter, withDb } from "../helpers/db";
import { call, tokenFor } from "../helpers/http";
import { connectAgent } from "../helpers/ws";

const online = async () => {
  const agent = await makeAgent();
  const socket = await connectAgent(agent.agentId, agent.apiKey);
  await waitFor("agent online", async () => ((await getAgentRow(agent.agentId))?.status === "online" ? true : undefined));
  return { ...agent, socket };
};

const heartbeatSecondsAgo = (agentId: string, seconds: number) =>
  query(sql`update agents set last_heartbeat = now() - make_interval(secs => ${seconds}) where agent_id = ${agentId}`);

const holdAgent = (tx: Parameters<Parameters<typeof transaction>[1]>[0], agentId: string) =>
  tx.execute(sql`select 1 from agents where agent_id = ${agentId} for no key update`);

const create = async () => call("POST", "/api/v1/sessions", { token: await tokenFor("una"), body: { user: "una", template: "desktop" } });

/** `promise`, or a failure naming `what` after `ms`: a create that waits on the test's own lock would never answer. */
const within = <T>(ms: number, what: string, promise: Promise<T>) =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms: ${what}`)), ms))]);

// The test's transaction and the request's run at once: embedded PGlite lets one transaction
// through at a time.
describe.skipIf(!inject("concurrentSessions"))("session creates at the same moment", () => {
  it("wait for the only selectable agent while another create holds it, rather than answer that there is none", async () => {
    await makeTemplate("desktop", { spec: { baseImage: "example/tigervnc" } });
    const only = await online();
    const res = await withDb((db) =>
      transaction(db, async (tx) => {
        await holdAgent(tx, only.agentId);
        const pending = create();
        await waitForLockWaiter("the create waiting for the agent", { on: "create_session_with_command", timeoutMs: 10_000 });
        return { pending };
      }),
    );
    const answered = await res.pending;
    expect(answered.status).toBe(202);
    expect(((await answered.json()) as { agentId: string }).agentId).toBe(only.agentId);
    only.socket.close();
    await query(sql`update agents set status = 'offline' where agent_id = ${only.agentId}`);
  });

  it("go to different agents: a create passes over the agent another create holds for the next in order", async () => {
    await makeTemplate("desktop", { spec: { baseImage: "example/tigervnc" } });
    const preferred = await online();
    const next = await online();
    await heartbeatSecondsAgo(preferred.agentId, 1);
    await heartbeatSecondsAgo(next.agentId, 20); // both idle: the latest heartbeat is preferred
    const landed = await withDb((db) =>
      transaction(db, async (tx) => {
        await holdAgent(tx, preferred.agentId);
        const answered = await within(5_000, "a create while the preferred agent is held", create());
        expect(answered.status).toBe(202);
        return ((await answered.json()) as { agentId: string }).agentId;
      }),
    );
    expect(landed).toBe(next.agentId);
    // Free again, the preferred agent is picked as before.
    const after = await create();
    expect(((await after.json()) as { agentId: string }).agentId).toBe(preferred.agentId);
    for (const a of [preferred, next]) a.socket.close();
  });
});
