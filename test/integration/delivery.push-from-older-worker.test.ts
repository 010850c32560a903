/**
 * During a deploy, Workers still running the previous version call Durable Objects already
 * running the new one. A push from such a Worker does not list the commands it waits behind
 * (it pushed only commands with nothing older pending): the object must still deliver it.
 */
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { PushableCommand } from "../../src/agent/delivery";
import { getCommand, makeAgent, query } from "../helpers/db";
import { connectAgent, settle } from "../helpers/ws";

describe("a push from a Worker of the previous version", () => {
  it("is delivered although it does not say what it waits behind", async () => {
    const { agentId, apiKey } = await makeAgent();
    const socket = await connectAgent(agentId, apiKey);
    await settle(agentId);
    await query(sql`insert into agent_commands (command_id, agent_id, action, payload) values ('cmd-old-worker', ${agentId}, 'stop_session', '{"sessionId":"s1"}')`);
    const previousShape = { commandId: "cmd-old-worker", action: "stop_session", payload: { sessionId: "s1" } };

    const result = await env.AGENT.getByName(agentId).deliver(previousShape as unknown as PushableCommand);

    expect(result).toEqual({ ok: true, sent: 1 });
    expect((await socket.nextFrame()).payload).toEqual({ commandId: "cmd-old-worker", action: "stop_session", payload: { sessionId: "s1" } });
    await expect.poll(async () => (await getCommand("cmd-old-worker"))?.status, { timeout: 2000, interval: 50 }).toBe("sent");
    socket.close();
  });
});
