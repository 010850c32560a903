/**
 * `Idempotency-Key` for the endpoints that create work (POST /api/v1/sessions, the admin command
 * endpoint). The first answer is stored in the same transaction as what the request created, so a
 * repeat gets that answer and creates nothing, even when the two race.
 */
import type { Context } from "hono";
import type { Db, Queryable } from "../db/client";
import { idempotencyGet, idempotencyPut } from "../db/queries/idempotency";
import { transaction } from "../db/transaction";
import type { AppEnv } from "../env";
import { AppError } from "../errors";

export const IDEMPOTENCY_HEADER = "Idempotency-Key";

export type IdempotencyRequest = { scope: string; key: string; requestHash: string };
export type Answer = { statusCode: number; response: unknown };

/** Thrown inside the transaction when a concurrent twin stored its answer first: roll back, replay. */
class LostRace extends Error {}

/** Reads the header; null when absent. The scope ties a key to its user and route. */
export async function idempotencyRequest(c: Context<AppEnv>, route: string): Promise<IdempotencyRequest | null> {
  const key = c.req.header(IDEMPOTENCY_HEADER);
  if (key === undefined) return null;
  if (key.length === 0 || key.length > 255) {
    throw new AppError("bad_request", "Invalid Idempotency-Key", "Idempotency-Key must be 1 to 255 characters");
  }
  // The route's validator has read the body already; Hono hands back its cached copy.
  const body = await c.req.text();
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${route}\n${body}`));
  const requestHash = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  return { scope: `${c.var.user.userId}:${route}`, key, requestHash };
}

/**
 * Runs a request's work once per key: `write` runs in a transaction and returns the answer,
 * which is stored before commit. A 4xx/503 it throws rolls everything back and is not stored,
 * so a retry can succeed later. Without a key `write` runs on its own and must be atomic by
 * itself (a single statement).
 */
export async function onceForKey(
  db: Db,
  request: IdempotencyRequest | null,
  write: (tx: Queryable) => Promise<Answer>,
): Promise<Answer & { replayed: boolean }> {
  // Without a key there is nothing to store alongside: `write` is atomic on its own.
  if (!request) return { ...(await write(db)), replayed: false };
  const seen = await replay(db, request);
  if (seen) return { ...seen, replayed: true };
  try {
    return await transaction(db, async (tx) => {
      const answer = await write(tx);
      if (!(await idempotencyPut(tx, request.scope, request.key, { requestHash: request.requestHash, ...answer }))) {
        throw new LostRace();
      }
      return { ...answer, replayed: false };
    });
  } catch (err) {
    if (!(err instanceof LostRace)) throw err;
    const seen = await replay(db, request);
    if (!seen) throw new AppError("conflict", "Idempotency conflict", "A request with this Idempotency-Key is in progress", {}, { cause: err });
    return { ...seen, replayed: true };
  }
}

async function replay(db: Queryable, request: IdempotencyRequest): Promise<Answer | undefined> {
  const stored = await idempotencyGet(db, request.scope, request.key);
  if (!stored) return undefined;
  if (stored.requestHash !== request.requestHash) {
    throw new AppError(
      "unprocessable",
      "Idempotency-Key reused",
      "This Idempotency-Key was used for a different request; use a new key for new work",
    );
  }
  return { statusCode: stored.statusCode, response: stored.response };
}
