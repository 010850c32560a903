/**
 * First middleware: request id, logger, parsed config and a per-request database handle, all
 * in `c.var`. The database Pool is closed after the response with waitUntil.
 */
import type { MiddlewareHandler } from "hono";
import { createDb } from "../db/client";
import type { AppEnv } from "../env";
import { readConfig } from "../env";
import { newRequestId } from "../lib/ids";
import { createLogger } from "../lib/log";

export function requestContext(): MiddlewareHandler<AppEnv> {
  return async function requestContextMiddleware(c, next) {
    const requestId = c.req.header("X-Request-Id")?.slice(0, 100) || newRequestId();
    c.set("requestId", requestId);
    c.header("X-Request-Id", requestId);
    c.set("log", createLogger({ requestId }));
    const config = readConfig(c.env);
    c.set("config", config);
    const handle = createDb({ url: config.DATABASE_URL, wsProxy: config.DB_WS_PROXY });
    c.set("db", handle.db);
    try {
      await next();
    } finally {
      c.executionCtx.waitUntil(handle.end());
    }
  };
}
