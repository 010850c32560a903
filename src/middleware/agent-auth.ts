/**
 * Agent authentication with `X-Agent-API-Key`, in the original's decision order (spec §1.3):
 * missing 401 → bad format 401 → agent id 400 → unknown agent 404 (unless bootstrap key) →
 * wrong key 403 (unless bootstrap key) → ok. mTLS is not offered.
 */
import type { HonoRequest, MiddlewareHandler } from "hono";
import { agentGetByIdTouchingKey, agentUpgradeLegacyKey } from "../db/queries/agents";
import type { AppEnv } from "../env";
import { AppError } from "../errors";
import { apiKeyFormatProblem, constantTimeEqual, hashApiKey, verifyApiKey } from "../lib/api-key";

export function requireAgentKey(): MiddlewareHandler<AppEnv> {
  return async function requireAgentKeyMiddleware(c, next) {
    const key = c.req.header("X-Agent-API-Key");
    if (!key) {
      throw new AppError(
        "unauthorized",
        "Missing authentication",
        "Either client certificate (mTLS) or X-Agent-API-Key header is required",
      );
    }
    const formatProblem = apiKeyFormatProblem(key);
    if (formatProblem) throw new AppError("unauthorized", "Invalid API key format", formatProblem);

    const agentId = c.req.query("agent_id") || c.req.param("agent_id") || (await bodyAgentId(c.req));
    if (!agentId) throw new AppError("bad_request", "Missing agent_id", "agent_id must be provided");

    const bootstrapKey = c.var.config.AGENT_BOOTSTRAP_KEY;
    const isBootstrap = bootstrapKey !== "" && constantTimeEqual(key.toLowerCase(), bootstrapKey.toLowerCase());
    const keyHash = await hashApiKey(key);
    // Before the read: a revocation the read could not see yet is later than this (see AgentObject.fetch).
    const authorizedAt = Date.now();
    const agent = await agentGetByIdTouchingKey(c.var.db, agentId, keyHash);
    if (!agent) {
      if (!isBootstrap) {
        throw new AppError(
          "not_found",
          "Agent not found",
          "Agent must be pre-registered or use a valid bootstrap key",
          { agentId },
        );
      }
      c.set("agent", { agentId, bootstrap: true, registered: false, approvalStatus: "", authorizedAt });
      return next();
    }
    const verdict = await verifyApiKey(key, agent.apiKeyHash, keyHash);
    if (verdict !== "mismatch") {
      // A current key's use was recorded by the read; a legacy (bcrypt) one is upgraded now.
      if (verdict === "legacy" && agent.apiKeyHash) {
        const upgrade = agentUpgradeLegacyKey(c.var.db, agentId, { from: agent.apiKeyHash, to: keyHash });
        // Not upgraded now, it is on the key's next use: logged, the request goes on.
        c.executionCtx.waitUntil(upgrade.catch((err: unknown) => c.var.log.warn("legacy key upgrade failed", { agentId, err })));
      }
      c.set("agent", { agentId, bootstrap: false, registered: true, approvalStatus: agent.approvalStatus ?? "", authorizedAt });
      return next();
    }
    // The bootstrap key is accepted for existing agents too (the original's Issue #234 fallback):
    // agents are never told their own key by registration, so they keep presenting it.
    if (!isBootstrap) throw new AppError("forbidden", "Invalid API key", "The API key does not match this agent.");
    c.set("agent", { agentId, bootstrap: true, registered: true, approvalStatus: agent.approvalStatus ?? "", authorizedAt });
    return next();
  };
}

/** `agentId` from a JSON body, read through Hono's cache so the route's validator reuses it. */
async function bodyAgentId(request: HonoRequest): Promise<string | undefined> {
  if (!request.header("Content-Type")?.includes("json")) return undefined;
  try {
    const body: unknown = await request.json();
    const id = (body as { agentId?: unknown } | null)?.agentId;
    return typeof id === "string" && id ? id : undefined;
  } catch {
    return undefined;
  }
}
