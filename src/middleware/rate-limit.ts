/**
 * Per-client-IP limit on the agent HTTP endpoints with the platform's rate limiting binding
 * (spec §1.3: key `agent:<ip>`, 60/min, 429 with retryAfter). Frames on an open WebSocket are
 * not requests and are never counted. Agents behind one NAT share a budget, as before.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { AppError } from "../errors";

/** Seconds a limited client should wait: the binding's window. */
const RETRY_AFTER_SECONDS = 60;

export function agentRateLimit(): MiddlewareHandler<AppEnv> {
  return async function agentRateLimitMiddleware(c, next) {
    if (!c.var.config.RATE_LIMIT_ENABLED) return next();
    const ip = c.req.header("CF-Connecting-IP") ?? "unknown";
    const { success } = await c.env.AGENT_RATE_LIMITER.limit({ key: `agent:${ip}` });
    if (!success) {
      c.header("Retry-After", String(RETRY_AFTER_SECONDS));
      throw new AppError("rate_limited", "Rate limit exceeded", "Too many requests. Please try again later.", {
        details: "Too many requests. Please try again later.",
        retryAfter: RETRY_AFTER_SECONDS,
      });
    }
    return next();
  };
}
