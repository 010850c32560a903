/** The one place that maps an agent id to its Durable Object. */
import type { CommandRow } from "../db/schema";
import { AppError, isDurableObjectUnavailable } from "../errors";
import type { Logger } from "../lib/log";
import type { AgentObject } from "./agent-object";
import type { PushableCommand } from "./delivery";

export function getAgentStub(env: Env, agentId: string): DurableObjectStub<AgentObject> {
  return (env.AGENT as DurableObjectNamespace<AgentObject>).getByName(agentId);
}

/**
 * Runs a call to an agent's object that a request waits for: a failure of the platform (the
 * object restarting, moving or overloaded), not of the object's code, becomes a 503 that names
 * the object. Without it, "Network connection lost." read as the database's words.
 */
export async function callAgentObject<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!isDurableObjectUnavailable(err)) throw err;
    const overloaded = (err as { overloaded?: unknown }).overloaded === true;
    const message = overloaded
      ? "The agent's Durable Object is overloaded; retry later."
      : "The agent's Durable Object could not be reached (restarting or moving); retry.";
    throw new AppError("unavailable", "Agent object unavailable", message, {}, { cause: err });
  }
}

/**
 * The delivery fast path: after a command is committed, ask its agent's DO to deliver now,
 * without holding up the response. A failure here loses nothing: the command stays pending
 * and the next connect or sweep delivers it; it is logged with the request's id.
 */
export function requestDelivery(
  env: Env,
  ctx: { waitUntil(p: Promise<unknown>): void },
  agentId: string,
  log: Logger,
  created?: CreatedCommand,
): void {
  // A new command can be pushed as is unless older ones wait (the DO decides, see `deliver`).
  const push = created ? pushableCommand(created) : undefined;
  // A DO still busy (a long backlog to drain) or hung would otherwise leave no trace here.
  const slow = setTimeout(() => log.warn("delivery request unanswered", { agentId, afterMs: SLOW_DELIVERY_MS }), SLOW_DELIVERY_MS);
  ctx.waitUntil(
    getAgentStub(env, agentId)
      .deliver(push)
      .catch((err: unknown) => log.warn("delivery request failed", { agentId, err }))
      .finally(() => clearTimeout(slow)),
  );
}

/** Well past a healthy delivery (milliseconds), well inside the 30 s a Worker's waitUntil may run. */
const SLOW_DELIVERY_MS = 10_000;

/** A command row as an insert returned it, with the agent's older commands pending then. */
export type CreatedCommand = Pick<CommandRow, "commandId" | "action" | "payload"> & { olderPendingIds: string[] };

function pushableCommand(c: CreatedCommand): PushableCommand {
  return { commandId: c.commandId, action: c.action, payload: c.payload, behind: c.olderPendingIds };
}

/** Asks the agent's DO to deliver and waits for the outcome (the sweep's path). */
export function requestDeliveryNow(env: Env, agentId: string) {
  return getAgentStub(env, agentId).deliver();
}
