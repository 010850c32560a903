import bcrypt from "bcryptjs";
import { describe, expect, it } from "vitest";
import { apiKeyFormatProblem, generateApiKey, hashApiKey, verifyApiKey } from "../../src/lib/api-key";

describe("agent API keys", () => {
  it("are 64 hex characters and verify against their stored hash only", async () => {
    const key = generateApiKey();
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const stored = await hashApiKey(key);
    expect(stored).not.toContain(key);
    expect(await verifyApiKey(key, stored)).toBe("match");
    expect(await verifyApiKey(key, stored, await hashApiKey(key))).toBe("match");
    expect(await verifyApiKey(key, stored, await hashApiKey(generateApiKey()))).toBe("mismatch");
    expect(await verifyApiKey(key.toUpperCase(), stored)).toBe("match");
    expect(await verifyApiKey(generateApiKey(), stored)).toBe("mismatch");
    expect(await verifyApiKey(key, null)).toBe("mismatch");
    expect(await verifyApiKey(key, "plain-text-key")).toBe("mismatch");
  });

  it("still verify against a legacy bcrypt hash imported from StreamSpace, flagged for upgrade", async () => {
    const key = generateApiKey();
    const legacy = await bcrypt.hash(key, 4);
    expect(await verifyApiKey(key, legacy)).toBe("legacy");
    expect(await verifyApiKey(generateApiKey(), legacy)).toBe("mismatch");
  });

  it("report format problems as the original did", () => {
    expect(apiKeyFormatProblem("a".repeat(64))).toBeNull();
    expect(apiKeyFormatProblem("abc")).toBe("API key must be 64 characters (got 3)");
    expect(apiKeyFormatProblem("g".repeat(64))).toBe("API key must contain only hexadecimal characters");
  });
});
