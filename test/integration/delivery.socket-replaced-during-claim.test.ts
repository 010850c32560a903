/**
 * A drain whose claim is in flight when the agent's socket is replaced sends nothing of that
 * claim on the new socket: the new socket's connect work (re-queue what the old one left
 * unacknowledged, then claim) sends everything once, oldest first. The delivery runs as the
 * Durable Object runs it, on real WebSockets and the real claim statements; only the moment the
 * first claim answers is held back, so the new socket arrives while it is in flight.
 */
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { commandClaimPending, commandRequeueAndClaim } from "../../src/db/queries/commands";
import { getCommand, makeAgent, query, testDbOptions, waitFor } from "../helpers/db";
import { openPair, testDelivery, testPolicy } from "../helpers/delivery";

describe("a socket replaced while a drain's claim is in flight", () => {
  const handle = createDb(testDbOptions());
  afterAll(() => handle.end());

  it("gets the old socket's unacknowledged command and the claimed one once each, oldest first", async () => {
    const { agentId } = await makeAgent();
    // C0 went out on the old socket and was never acknowledged; B is newer and pending.
    await query(sql`insert into agent_commands (command_id, agent_id, action, status, attempts, sent_at, created_at)
      values ('cmd-c0', ${agentId}, 'stop_session', 'sent', 1, now(), now() - interval '2 seconds'),
             ('cmd-b', ${agentId}, 'stop_session', 'pending', 0, null, now() - interval '1 second')`);
    const policy = testPolicy();
    const oldSocket = openPair();
    const newSocket = openPair();
    let current = oldSocket.server;
    let connectWorkDone = true; // the old socket's was done long ago
    let releaseFirstClaim!: () => void;
    const firstClaimHeld = new Promise<void>((resolve) => (releaseFirstClaim = resolve));
    let claims = 0;
    const delivery = testDelivery(handle, {
      socket: () => current,
      // As AgentObject's: a new socket's first claim re-queues what earlier sockets left unacknowledged.
      claim: async (db, id, limit) => {
        claims++;
        if (claims === 1) {
          const claimed = await commandClaimPending(db, id, limit, policy);
          await firstClaimHeld;
          return claimed;
        }
        if (connectWorkDone) return commandClaimPending(db, id, limit, policy);
        connectWorkDone = true;
        return commandRequeueAndClaim(db, id, { markOnline: false }, limit, policy);
      },
    });

    const draining = delivery.drain(agentId);
    await waitFor("the first claim in flight", async () => (claims === 1 ? true : undefined));
    // The agent reconnects, as AgentObject.fetch handles it: new socket, pushes forgotten, a drain asked for.
    current = newSocket.server;
    connectWorkDone = false;
    delivery.forgetPushed();
    void delivery.drain(agentId);
    releaseFirstClaim();
    await draining;

    await waitFor("both commands on the new socket", async () => (newSocket.received.length >= 2 ? true : undefined));
    expect(newSocket.received).toEqual(["cmd-c0", "cmd-b"]);
    expect(oldSocket.received).toEqual([]);
    expect((await getCommand("cmd-b"))?.attempts).toBe(1);
  });
});
