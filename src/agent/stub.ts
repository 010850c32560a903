/** The one place that maps an agent id to its Durable Object. */
import type { AgentObject } from "./agent-object";

export function getAgentStub(env: Env, agentId: string): DurableObjectStub<AgentObject> {
  return (env.AGENT as DurableObjectNamespace<AgentObject>).getByName(agentId);
}

/**
 * The delivery fast path: after a command is committed, ask its agent's DO to deliver now,
 * without holding up the response. A failure here loses nothing: the command stays pending
 * and the next connect or sweep delivers it.
 */
export function requestDelivery(
  env: Env,
  ctx: { waitUntil(p: Promise<unknown>): void },
  agentId: string,
  onError: (err: unknown) => void,
): void {
  ctx.waitUntil(
    getAgentStub(env, agentId)
      .deliver()
      .catch((err: unknown) => onError(err)),
  );
}

/** Asks the agent's DO to deliver and waits for the outcome (the sweep's path). */
export function requestDeliveryNow(env: Env, agentId: string) {
  return getAgentStub(env, agentId).deliver();
}
