/**
 * User authentication: `Authorization: Bearer <JWT>` signed HS256 with JWT_SECRET (spec §5.1).
 * The user id comes from `sub` (or StreamSpace's `user_id`/`username`); role `admin` is admin.
 * A token must carry a numeric `exp`.
 */
import type { MiddlewareHandler } from "hono";
import { verify } from "hono/jwt";
import type { AppEnv } from "../env";
import { AppError } from "../errors";

export function requireUser(): MiddlewareHandler<AppEnv> {
  return async function requireUserMiddleware(c, next) {
    const header = c.req.header("Authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) {
      throw new AppError("unauthorized", "Authorization header required", "Send Authorization: Bearer <token>.");
    }
    let claims: Record<string, unknown>;
    try {
      claims = await verifiedClaims(match[1], c.var.config.JWT_SECRET);
    } catch (err) {
      throw new AppError("unauthorized", "Invalid or expired token", "The bearer token failed verification.", {}, { cause: err });
    }
    // verify checks exp only when the token has one: a token without it would be good forever.
    if (typeof claims["exp"] !== "number") {
      throw new AppError("unauthorized", "Invalid or expired token", "The token has no expiry (exp): mint one with an exp claim.");
    }
    const userId = [claims["sub"], claims["user_id"], claims["username"]].find(
      (v): v is string => typeof v === "string" && v.length > 0,
    );
    if (!userId) {
      throw new AppError("unauthorized", "Invalid or expired token", "The token names no user (sub).");
    }
    c.set("user", { userId, isAdmin: claims["role"] === "admin" });
    await next();
  };
}

export function requireAdmin(): MiddlewareHandler<AppEnv> {
  return async function requireAdminMiddleware(c, next) {
    if (!c.var.user.isAdmin) throw new AppError("forbidden", "Forbidden", "This endpoint requires role admin.");
    await next();
  };
}

/**
 * A token's claims once its signature checked out, for the current secret. A client sends the
 * same token with each of its requests, and verifying it (decoding, an HMAC, the claims'
 * times) was ~4 % of workerd's busy time in a profile of back-to-back creates. The signature and
 * the claims of a given token text never change; only its expiry comes, checked on every use
 * (`nbf` and `iat`, checked when it was verified, only become more true). A new secret empties it.
 */
async function verifiedClaims(token: string, secret: string): Promise<Record<string, unknown>> {
  if (verifiedFor !== secret) {
    verified.clear();
    verifiedFor = secret;
  }
  const known = verified.get(token);
  if (known) {
    if (typeof known["exp"] === "number" && known["exp"] > Math.floor(Date.now() / 1000)) return known;
    verified.delete(token);
  }
  const claims = await verify(token, await verificationKey(secret), "HS256");
  // Kept only if the secret is still the one it was verified with (another request may have
  // seen a new one meanwhile). Oldest first out: a Map keeps insertion order.
  if (verifiedFor === secret) {
    if (verified.size >= VERIFIED_LIMIT) verified.delete(verified.keys().next().value!);
    verified.set(token, claims);
  }
  return claims;
}

const verified = new Map<string, Record<string, unknown>>();
let verifiedFor: string | undefined;
/** Tokens kept per isolate: a few hundred KiB at most. */
const VERIFIED_LIMIT = 1000;

/** The imported HMAC key for the current secret: importing it cost more than verifying a token. */
let imported: { secret: string; key: CryptoKey } | undefined;

async function verificationKey(secret: string): Promise<CryptoKey> {
  if (imported?.secret === secret) return imported.key;
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  imported = { secret, key };
  return key;
}
