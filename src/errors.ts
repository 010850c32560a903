/**
 * The one error type and the one error→HTTP mapping. Every 4xx/5xx body has the shape
 * `{ error, code, message, requestId, ...extra }`: `error` is the short title StreamSpace
 * clients match on (e.g. "Session not found"), `code` a stable machine code.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppEnv } from "./env";

const STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof STATUS;

/** An expected failure with its HTTP meaning. `extra` fields are merged into the body. */
export class AppError extends Error {
  override name = "AppError";
  constructor(
    readonly code: ErrorCode,
    readonly title: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  get status(): ContentfulStatusCode {
    return STATUS[this.code];
  }
}

/** SQLSTATE classes that mean "the database is not reachable or not accepting work". */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P)/;

/**
 * True for failures of the database connection (refused, dropped, shut down), as opposed to
 * bugs in a query. Walks the `cause` chain: drizzle wraps driver errors in DrizzleQueryError.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  // Our own verdict (a 404 whose message quotes an agent id "websocket-1", say) is judged by
  // its code, never by its words.
  if (err instanceof AppError) return err.code === "unavailable" && err.cause !== undefined && isDatabaseUnavailable(err.cause);
  // Neon's proxy reports its own failures to reach the compute with SQLSTATE XX000 on the wire.
  if (someMessage(err, NEON_PROXY_UNAVAILABLE)) return true;
  const code = sqlState(err);
  if (code) return UNAVAILABLE_SQLSTATE.test(code);
  for (let e: unknown = err, depth = 0; typeof e === "object" && e !== null && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    // The neon driver reports a failed WebSocket as a bare ErrorEvent (not an Error), at any
    // depth: drizzle wraps it as the cause of its own error.
    if ((e as { type?: unknown }).type === "error") return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message !== "string") continue;
    // drizzle's wrapper quotes the SQL (column names like idle_timeout): judge only driver errors.
    if (message.startsWith("Failed query:")) continue;
    // "Cannot use a pool after calling end": a transaction begun on a pool already ended; it never
    // reached Postgres. HTTP 500 is how Neon's SQL-over-HTTP proxy answers when it cannot reach
    // its compute (a 500 naming a SQLSTATE is judged by that above); also when a batch's
    // connection is lost at COMMIT, whose outcome is then unknown: a kept frame applied again is
    // harmless, every write it makes being guarded by the state it moves from.
    if (/ECONNREFUSED|WebSocket|Connection terminated|connection (closed|lost)|Network connection lost|timed? ?out|Error connecting to database|HTTP status 50[0234]|Cannot use a pool after calling end/i.test(message)) {
      return true;
    }
  }
  return false;
}

/**
 * True when Postgres itself answered that the statement failed (a SQLSTATE outside the
 * connection classes), so its transaction rolled back. A lost connection or a lost answer leaves
 * the outcome unknown: the statement may have committed.
 */
export function isRefusedByPostgres(err: unknown): boolean {
  const code = sqlState(err);
  return code !== undefined && !UNAVAILABLE_SQLSTATE.test(code);
}

/**
 * True when a write may have taken effect though nothing said so: the database was unavailable
 * and no answer of Postgres came (our wait for it timed out, the connection was lost mid-request,
 * a proxy answered 5xx without a SQLSTATE, as Neon's does for a connection lost at COMMIT),
 * unless the failure came before anything was sent (a refused connection, a pool already ended).
 * An answer with a SQLSTATE means Postgres rolled the work back. Such a write must not be
 * answered as if it left no trace: a client told "retry" would do it twice.
 */
export function isOutcomeUnknown(err: unknown): boolean {
  if (!isDatabaseUnavailable(err) || sqlState(err) !== undefined) return false;
  return !someMessage(err, NOTHING_SENT) && !someMessage(err, NEON_PROXY_UNAVAILABLE);
}

/** Failures that happen before a statement leaves: its outcome is known (nothing happened). */
const NOTHING_SENT = /ECONNREFUSED|connection refused|Cannot use a pool after calling end/i;
/**
 * Neon's proxy could not reach (or wake) the compute, so nothing ran: over HTTP a 500, over the
 * wire an error with SQLSTATE XX000 (neondatabase/neon, proxy/src/serverless/sql_over_http.rs).
 */
const NEON_PROXY_UNAVAILABLE = /Couldn't connect to compute node|Failed to acquire permit|Control plane request failed/i;

/** Whether any message in the error's `sourceError`/`cause` chain matches `pattern`. */
function someMessage(err: unknown, pattern: RegExp): boolean {
  for (let e = err, depth = 0; typeof e === "object" && e !== null && depth < 6; depth++) {
    const { message, sourceError, cause } = e as { message?: unknown; sourceError?: unknown; cause?: unknown };
    // drizzle's wrapper quotes the statement's parameters (an agent's error text): not a driver error.
    if (typeof message === "string" && !message.startsWith("Failed query:") && pattern.test(message)) return true;
    e = sourceError ?? cause;
  }
  return false;
}

/**
 * True for a serialization failure or deadlock: Postgres rolled the work back because of
 * concurrent work, and the same work retried normally goes through.
 */
export function isTransientConflict(err: unknown): boolean {
  const code = sqlState(err);
  return code === "40001" || code === "40P01";
}

/**
 * True when Postgres cancelled the statement and rolled its transaction back: a statement or lock
 * timeout set on the role or the database, or an operator's pg_cancel_backend. Nothing was
 * written, and the same work retried normally goes through.
 */
export function isCancelledByPostgres(err: unknown): boolean {
  const code = sqlState(err);
  return code === "57014" || code === "55P03";
}

/** Why Postgres rolled work back that is worth retrying as it is, or undefined if it did not. */
export function retryableRollback(err: unknown): string | undefined {
  if (isTransientConflict(err)) return "rolled back by concurrent work";
  if (isCancelledByPostgres(err)) return "cancelled by Postgres (a timeout or an operator)";
  return undefined;
}

/**
 * True for a failure of the Durable Objects infrastructure on a call to an object (it was
 * restarting or moving, the connection to it dropped, it is overloaded), as opposed to an error
 * our object's code threw (`remote`). The runtime marks these `retryable` or `overloaded`
 * (developers.cloudflare.com/durable-objects/best-practices/error-handling). Judge only what a
 * stub call threw: workerd marks any dropped connection `retryable`, a database's fetch too.
 */
export function isDurableObjectUnavailable(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const { retryable, overloaded, remote } = err as { retryable?: unknown; overloaded?: unknown; remote?: unknown };
  return remote !== true && (retryable === true || overloaded === true);
}

/** True when the error is Postgres refusing a row for the foreign key `constraint` (23503). */
export function isForeignKeyViolation(err: unknown, constraint: string): boolean {
  const pg = postgresError(err);
  return pg?.code === "23503" && pg.constraint === constraint;
}

/** True when the error is Postgres refusing a duplicate key of `constraint` (23505). */
export function isUniqueViolation(err: unknown, constraint: string): boolean {
  const pg = postgresError(err);
  return pg?.code === "23505" && pg.constraint === constraint;
}

/** The SQLSTATE of a Postgres error somewhere in the `cause` chain. */
function sqlState(err: unknown): string | undefined {
  return postgresError(err)?.code;
}

/** The Postgres error (one with a SQLSTATE) somewhere in the `cause` chain. */
function postgresError(err: unknown): { code: string; constraint?: unknown } | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const { code, constraint } = e as { code?: unknown; constraint?: unknown };
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return { code, constraint };
  }
  return undefined;
}

const HTTP_EXCEPTION: Partial<Record<number, [ErrorCode, string]>> = {
  401: ["unauthorized", "Unauthorized"],
  413: ["payload_too_large", "Payload too large"],
  415: ["unsupported_media_type", "Unsupported media type"],
};

/** Maps any thrown value to the JSON error response. Unknown errors are logged with the request id. */
export function toErrorResponse(err: unknown, c: Context<AppEnv>): Response {
  const requestId = c.get("requestId") ?? "unknown";
  let appError: AppError;
  if (err instanceof AppError) {
    appError = err;
    // A 5xx answer that wraps a failure (a create whose outcome is unknown, say) is logged with it;
    // one that reports a state ("No agents available") is not an error of ours.
    if (appError.status >= 500 && appError.cause !== undefined) c.get("log")?.error(appError.title, { err: appError.cause, ...appError.extra });
  } else if (err instanceof HTTPException) {
    // Hono's own refusals (a body that is not JSON, a Content-Type that is not): code and title
    // follow the status they carry.
    const [code, title] = HTTP_EXCEPTION[err.status] ?? (err.status >= 500 ? ["internal", "Internal server error"] : ["bad_request", "Bad request"]);
    appError = new AppError(code, title, err.message);
    return c.json(body(appError, requestId, c.req.path), err.status as ContentfulStatusCode);
  } else if (isTransientConflict(err)) {
    // Serialization failure or deadlock with concurrent work (an agent's delete against the
    // sweep, say): Postgres rolled this request back; a retry normally goes through.
    c.get("log")?.warn("rolled back by a concurrent transaction", { err });
    appError = new AppError("unavailable", "Conflict with concurrent work", "The request collided with concurrent work and was rolled back; nothing was written. Retry it.");
  } else if (isCancelledByPostgres(err)) {
    c.get("log")?.warn("statement cancelled by Postgres", { err });
    appError = new AppError(
      "unavailable",
      "Statement cancelled",
      "Postgres cancelled a statement of this request (a statement or lock timeout, or an operator) and rolled it back; nothing was written. Retry it.",
    );
  } else if (sqlState(err) === "23503") {
    // A row the request refers to was deleted since it was read (its agent, say).
    c.get("log")?.warn("referenced row removed meanwhile", { err });
    appError = new AppError("conflict", "Conflict", "Something this request refers to (such as the session's agent) was removed meanwhile; nothing was written.");
  } else if (sqlState(err)?.startsWith("22")) {
    // Data exceptions (value too long, bad encoding…) come from input the schemas let through.
    c.get("log")?.warn("input rejected by the database", { err });
    appError = new AppError("bad_request", "Bad request", "A value in the request cannot be stored.");
  } else if (isOutcomeUnknown(err) && c.req.method !== "GET") {
    c.get("log")?.error("database did not answer: outcome unknown", { err });
    appError = new AppError(
      "unavailable",
      "Service unavailable",
      "No answer came from the database: this request may have taken effect. Check before retrying (a request with an Idempotency-Key can be retried with the same key).",
      { outcome: "unknown" },
    );
  } else if (isDatabaseUnavailable(err)) {
    c.get("log")?.error("database unavailable", { err });
    appError = new AppError("unavailable", "Service unavailable", "The database is not reachable; retry later.");
  } else {
    (c.get("log") ?? console).error("unhandled error", { err });
    appError = new AppError("internal", "Internal server error", "An unexpected error occurred.");
  }
  return c.json(body(appError, requestId, c.req.path), appError.status);
}

function body(e: AppError, requestId: string, path: string) {
  // The original's agent endpoints put the explanation in `details` (spec §1.3), its session
  // endpoints in `message`: agent routes carry both.
  const details = path.startsWith(AGENT_ROUTES) ? { details: e.message } : {};
  return { error: e.title, code: e.code, message: e.message, ...details, requestId, ...e.extra };
}

const AGENT_ROUTES = "/api/v1/agents/";
