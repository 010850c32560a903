/**
 * A pushed command stays `pending` until its ack records it, so a drain running meanwhile may
 * claim it. When the ack is applied while that claim is in flight (the claim committed first,
 * its answer comes after), the drain must not send the command again: the agent has it and has
 * answered. The delivery runs as the Durable Object runs it, on a real WebSocket and the real
 * claim and ack statements; only the moment the claim answers is held back.
 */
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { applyAgentFrame } from "../../src/agent/frames";
import type { WorkFrame } from "../../src/agent/frames";
import { parseAgentFrame } from "../../src/agent/protocol";
import { createDb } from "../../src/db/client";
import { commandClaimPending } from "../../src/db/queries/commands";
import { getCommand, makeAgent, query, testDbOptions, waitFor } from "../helpers/db";
import { openPair, testDelivery, testPolicy } from "../helpers/delivery";

describe("an ack applied while a drain's claim of the same pushed command is in flight", () => {
  const handle = createDb(testDbOptions());
  afterAll(() => handle.end());

  it("keeps the drain from sending the command a second time", async () => {
    const { agentId } = await makeAgent();
    await query(sql`insert into agent_commands (command_id, agent_id, action, status) values ('cmd-pushed', ${agentId}, 'stop_session', 'pending')`);
    const policy = testPolicy();
    const { server, received } = openPair();
    let releaseClaim!: () => void;
    const claimHeld = new Promise<void>((resolve) => (releaseClaim = resolve));
    let claimCommitted = false;
    const delivery = testDelivery(handle, {
      socket: () => server,
      claim: async (db, id, limit) => {
        const claimed = await commandClaimPending(db, id, limit, policy);
        claimCommitted = true;
        await claimHeld;
        return claimed;
      },
    });

    await delivery.push(agentId, server, { commandId: "cmd-pushed", action: "stop_session", payload: {}, behind: [] });
    const draining = delivery.drain(agentId);
    await waitFor("the claim committed", async () => (claimCommitted ? true : undefined));
    // The agent's ack, applied as AgentObject applies it, while the claim's answer is held back.
    const ack = parseAgentFrame(JSON.stringify({ type: "ack", payload: { commandId: "cmd-pushed" } })) as WorkFrame;
    await applyAgentFrame(handle.db, agentId, ack, policy);
    delivery.answered("cmd-pushed");
    releaseClaim();
    await draining;

    expect((await getCommand("cmd-pushed"))?.status).toBe("ack");
    // A frame sent by the drain would be on its way by now; a round trip on the same socket
    // shows everything sent before it has arrived.
    server.send(JSON.stringify({ type: "command", payload: { commandId: "marker" } }));
    await waitFor("the marker", async () => (received.includes("marker") ? true : undefined));
    expect(received).toEqual(["cmd-pushed", "marker"]);
  });
});
