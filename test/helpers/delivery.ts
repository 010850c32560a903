/**
 * CommandDelivery as AgentObject runs it, on the test database and real WebSockets, with the
 * claim given by the test (so a test can hold its answer back), for the delivery race tests.
 */
import { env } from "cloudflare:workers";
import { CommandDelivery } from "../../src/agent/delivery";
import type { DeliveryHost } from "../../src/agent/delivery";
import type { DbHandle } from "../../src/db/client";
import { readConfig } from "../../src/env";
import { deliveryPolicy } from "../../src/lib/delivery-policy";
import type { DeliveryPolicy } from "../../src/lib/delivery-policy";
import { createLogger } from "../../src/lib/log";

export const testPolicy = (): DeliveryPolicy => deliveryPolicy(readConfig(env));

export function testDelivery(handle: DbHandle, host: Pick<DeliveryHost, "socket" | "claim">): CommandDelivery {
  const policy = testPolicy();
  return new CommandDelivery({
    ...host,
    db: () => handle.db,
    policy: () => policy,
    log: (agentId) => createLogger({ agentId }),
    onEmpty: () => {},
    onFailure: async (err) => {
      throw err;
    },
  });
}

/** A socket pair whose client end collects the command ids the server end sends. */
export function openPair(): { server: WebSocket; received: string[] } {
  const { 0: client, 1: server } = new WebSocketPair();
  server.accept();
  client.accept();
  const received: string[] = [];
  client.addEventListener("message", (event) => {
    received.push(JSON.parse(String(event.data)).payload.commandId as string);
  });
  return { server, received };
}
