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
import { MAX_JSON_DEPTH, containsNul, jsonDepth, jsonFindings } from "../lib/text";

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
    await rejectUnstorable(c.req);
    const handle = createDb(dbOptions(config));
    c.set("db", handle.db);
    try {
      await next();
    } finally {
      c.executionCtx.waitUntil(handle.end());
    }
  };
}

/** Largest request body read (1 MiB): the largest legitimate one, a template, is a few KiB. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Refuses with a 400 a path, query or body carrying NUL, a body with a string holding half a
 * surrogate pair or a key named `__proto__`, and a body nesting deeper than MAX_JSON_DEPTH (see
 * lib/text.ts). The body is read through Hono's cache, so the route's
 * validator and the idempotency hash reuse this read.
 */
async function rejectUnstorable(request: HonoRequest): Promise<void> {
  let url: string;
  try {
    url = decodeURIComponent(request.url);
  } catch {
    throw new AppError("bad_request", "Bad request", "The URL is not valid percent-encoding.");
  }
  const body = request.raw.body && request.method !== "GET" ? await readBody(request) : "";
  if (containsNul(url) || containsNul(body)) {
    throw new AppError("bad_request", "Bad request", "The request contains a NUL character, which cannot be stored.");
  }
  const found = jsonFindings(body);
  if (found.loneSurrogate) {
    throw new AppError("bad_request", "Bad request", "The request body has a string with half a UTF-16 surrogate pair (a lone \\uD800–\\uDFFF escape), which is not text.");
  }
  if (found.protoKey) {
    throw new AppError("bad_request", "Bad request", "The request body has a key named __proto__, which cannot be kept (it would be dropped, and what is stored would differ from what was sent): rename it.");
  }
  if (jsonDepth(body) > MAX_JSON_DEPTH) {
    throw new AppError("bad_request", "Bad request", `The request body nests arrays and objects more than ${MAX_JSON_DEPTH} deep.`, {
      limit: MAX_JSON_DEPTH,
    });
  }
}

/**
 * The body as text, refused with a 413 past MAX_BODY_BYTES before it is held in memory, and
 * before any authentication: this runs first, and a Worker has 128 MB for all its requests.
 */
async function readBody(request: HonoRequest): Promise<string> {
  const declared = request.header("Content-Length");
  if (declared !== undefined) {
    if (Number(declared) > MAX_BODY_BYTES) throw bodyTooLarge();
    return request.text();
  }
  // No declared length (a chunked body): read it with a cap, then hand it to Hono's cache.
  const reader = request.raw.body!.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      throw bodyTooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  const text = new TextDecoder().decode(bytes);
  // Hono keeps each read as a promise (its type says otherwise); the chunked-body test pins this.
  (request.bodyCache as Record<string, unknown>)["text"] = Promise.resolve(text);
  return text;
}

function bodyTooLarge(): AppError {
  return new AppError("payload_too_large", "Payload too large", `The request body is over ${MAX_BODY_BYTES} bytes.`, {
    limit: MAX_BODY_BYTES,
  });
}
