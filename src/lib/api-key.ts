/**
 * Agent API keys: 32 random bytes as 64 hex characters (spec §1.3). Only a hash is stored.
 * Keys are high-entropy, so a fast SHA-256 is as safe as bcrypt here and costs microseconds
 * instead of ~0.3 s of Worker CPU per connect. bcrypt hashes imported from a StreamSpace
 * database still verify, once, and the caller then replaces them with the fast form.
 */
import bcrypt from "bcryptjs";

const HASH_PREFIX = "sha256:";
const KEY_FORMAT = /^[0-9a-fA-F]{64}$/;

/** A new random key, 64 lower-case hex characters. */
export function generateApiKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return toHex(bytes);
}

/** Why a presented key is malformed, or null when it has the right shape. */
export function apiKeyFormatProblem(key: string): string | null {
  if (key.length !== 64) return `API key must be 64 characters (got ${key.length})`;
  if (!KEY_FORMAT.test(key)) return "API key must contain only hexadecimal characters";
  return null;
}

/** The value stored in `agents.api_key_hash`. */
export async function hashApiKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key.toLowerCase()));
  return HASH_PREFIX + toHex(new Uint8Array(digest));
}

/** The original's bcrypt hashes: `$2a$`, `$2b$` or `$2y$`. */
const BCRYPT_FORMAT = /^\$2[aby]\$\d{2}\$/;

/**
 * Checks `key` against a stored hash in constant time. `legacy` means it matched a bcrypt hash,
 * which the caller should replace with `hashApiKey(key)`.
 */
export async function verifyApiKey(
  key: string,
  stored: string | null,
  /** `hashApiKey(key)` when the caller has it already. */
  keyHash?: string,
): Promise<"match" | "legacy" | "mismatch"> {
  if (stored?.startsWith(HASH_PREFIX)) {
    return constantTimeEqual(keyHash ?? (await hashApiKey(key)), stored) ? "match" : "mismatch";
  }
  if (stored && BCRYPT_FORMAT.test(stored)) {
    // The original hashed the key exactly as presented (bcrypt compares in constant time).
    return (await bcrypt.compare(key, stored)) ? "legacy" : "mismatch";
  }
  return "mismatch";
}

/** Compares two strings without leaking where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const enc = new TextEncoder();
  const x = enc.encode(a);
  const y = enc.encode(b);
  if (x.byteLength !== y.byteLength) return false;
  return crypto.subtle.timingSafeEqual(x, y);
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
