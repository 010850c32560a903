/**
 * First middleware: request id, logger, parsed config and a per-request database handle, all
 * in `c.var`. The database Pool is closed after the response with waitUntil.
 */
import type { HonoRequest, MiddlewareHandler } from "hono";
import { createDb, dbOptions } from "../db/client";
import type { AppEnv } from "../env";
import { readConfig } from "../env";
import { newRequestId } from "../lib/ids";
import { createLogger } from "../lib/log";
import { AppError } from "../errors";
import { containsNul } from "../lib/text";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

export function requestContext(): MiddlewareHandler<AppEnv> {
  return async function requestContextMiddleware(c, next) {
    // A caller's id is echoed only when it is a plain token; anything else gets a fresh one.
    const given = c.req.header("X-Request-Id");
    const requestId = given && REQUEST_ID.test(given) ? given : newRequestId();
    c.set("requestId", requestId);
    c.header("X-Request-Id", requestId);
    c.set("log", createLogger({ requestId }));
    const config = readConfig(c.env);
    c.set("config", config);
    await rejectNul(c.req);
    const handle = createDb(dbOptions(config));
    c.set("db", handle.db);
    try {
      await next();
    } finally {
      c.executionCtx.waitUntil(handle.end());
    }
  };
}

/**
 * Refuses a path, query or body carrying NUL (see lib/text.ts) with a 400. The body is read
 * through Hono's cache, so the route's validator and the idempotency hash reuse this read.
 */
async function rejectNul(request: HonoRequest): Promise<void> {
  let url: string;
  try {
    url = decodeURIComponent(request.url);
  } catch {
    throw new AppError("bad_request", "Bad request", "The URL is not valid percent-encoding.");
  }
  const body = request.raw.body && request.method !== "GET" ? await request.text() : "";
  if (containsNul(url) || containsNul(body)) {
    throw new AppError("bad_request", "Bad request", "The request contains a NUL character, which cannot be stored.");
  }
}
