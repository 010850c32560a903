/**
 * The sweep's delivery list holds at most `maxAgents` agents a run. When more agents have
 * commands waiting, those it takes are drawn at random, so every agent gets its turn. Taken in
 * the order a plan happened to return them, the same ones came back every run: agents whose
 * object cannot deliver (online by HTTP heartbeats, with no socket) could fill the list every
 * minute and starve the rest of their re-deliveries.
 */
import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { commandAgentsWithPending } from "../../src/db/queries/commands";
import { makeAgent, query, resetDatabase, withDb } from "../helpers/db";

describe("the sweep's delivery list, full", () => {
  beforeEach(resetDatabase);

  it("reaches every agent with a command waiting over a few runs", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { agentId } = await makeAgent();
      ids.push(agentId);
      await query(sql`update agents set status = 'online' where agent_id = ${agentId}`);
      await query(sql`insert into agent_commands (command_id, agent_id, action, status, created_at)
        values (${`${agentId}-waiting`}, ${agentId}, 'stop_session', 'pending', now() - interval '1 minute')`);
    }
    const seen = new Set<string>();
    await withDb(async (db) => {
      // A list of one: 60 runs draw the same agent every time with a chance of 3·(2/3)^60.
      for (let run = 0; run < 60 && seen.size < ids.length; run++) {
        const list = await commandAgentsWithPending(db, 5, 1);
        expect(list).toHaveLength(1);
        seen.add(list[0]!);
      }
    });
    expect([...seen].sort()).toEqual([...ids].sort());
  });
});
