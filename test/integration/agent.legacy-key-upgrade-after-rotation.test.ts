/**
 * A legacy (bcrypt) key is upgraded to the fast hash after a request authenticated with it, in a
 * write that lands after the request's read. A key an administrator rotated in between must stay
 * rotated: the upgrade applies only while the agent still has the legacy hash it verified.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { agentUpgradeLegacyKey } from "../../src/db/queries/agents";
import { hashApiKey } from "../../src/lib/api-key";
import { makeAgent, query, withDb } from "../helpers/db";

const storedHash = async (agentId: string) =>
  (await query<{ api_key_hash: string }>(sql`select api_key_hash from agents where agent_id = ${agentId}`))[0]?.api_key_hash;

describe("a legacy key's upgrade", () => {
  it("replaces the hash it verified, and leaves a key rotated meanwhile alone", async () => {
    const { agentId } = await makeAgent();
    const legacy = "$2a$12$legacylegacylegacylegacyuZq2y8m6f3yDqS8bWnQ1yq8y6Jb9dEa";
    const upgraded = await hashApiKey("k".repeat(64));
    await query(sql`update agents set api_key_hash = ${legacy} where agent_id = ${agentId}`);
    await withDb((db) => agentUpgradeLegacyKey(db, agentId, { from: legacy, to: upgraded }));
    expect(await storedHash(agentId)).toBe(upgraded);

    const rotated = await hashApiKey("r".repeat(64));
    await query(sql`update agents set api_key_hash = ${legacy} where agent_id = ${agentId}`);
    await query(sql`update agents set api_key_hash = ${rotated} where agent_id = ${agentId}`); // the admin's rotation
    await withDb((db) => agentUpgradeLegacyKey(db, agentId, { from: legacy, to: upgraded })); // the late upgrade
    expect(await storedHash(agentId)).toBe(rotated);
  });
});
