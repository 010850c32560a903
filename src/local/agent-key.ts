/**
 * Agent keys for rows the local tools write straight into Postgres (demo seed, tests, bench):
 * the same format as src/lib/api-key.ts, whose module needs Workers' WebCrypto extensions.
 */
import { createHash, randomBytes } from "node:crypto";

/** 32 random bytes as 64 hex digits, as `generateApiKey` makes them. */
export function newAgentKey(): string {
  return randomBytes(32).toString("hex");
}

/** `sha256:<hex>`, as `hashApiKey` stores them. */
export function hashAgentKey(key: string): string {
  return `sha256:${createHash("sha256").update(key.toLowerCase()).digest("hex")}`;
}
