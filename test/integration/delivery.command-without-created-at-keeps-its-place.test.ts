/**
 * A command inserted with created_at NULL (an import of the original's table, a hand insert)
 * gets the time of its insert (migration 0016), so it goes out in the order it was inserted,
 * and the sweep's scan for undelivered commands can find it. It used to go out after every newer
 * command, and the sweep never found it.
 */
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { makeAgent, query } from "../helpers/db";
import { connectAgent } from "../helpers/ws";

describe("a command inserted with created_at NULL", () => {
  it("gets the time of its insert and goes out before commands inserted after it", async () => {
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    await query(sql`insert into agent_commands (command_id, agent_id, action, created_at) values ('cmd-imported', ${agentId}, 'stop_session', null)`);
    await query(sql`insert into agent_commands (command_id, agent_id, action) values ('cmd-after-it', ${agentId}, 'stop_session')`);
    const [row] = await query<{ age: number }>(
      sql`select extract(epoch from now() - created_at)::float8 as age from agent_commands where command_id = 'cmd-imported'`,
    );
    expect(row?.age).toBeLessThan(60);

    await env.AGENT.getByName(agentId).deliver();
    expect((await socket.nextFrame()).payload.commandId).toBe("cmd-imported");
    expect((await socket.nextFrame()).payload.commandId).toBe("cmd-after-it");
    socket.close();
  });
});
