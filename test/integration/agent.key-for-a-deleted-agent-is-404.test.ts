/**
 * A key generated or rotated for an agent deleted while the request ran answers 404: the agent
 * was found when the request began, but its key went nowhere. It used to answer 200 with a key
 * stored nowhere. Here the delete holds the agent's row until the key's write waits on it.
 */
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createDb } from "../../src/db/client";
import { transaction } from "../../src/db/transaction";
import { makeAgent, testDbOptions, waitForLockWaiter } from "../helpers/db";
import { call, tokenFor } from "../helpers/http";

// Holds a transaction open while the request runs: embedded PGlite lets one through at a time.
describe.skipIf(!inject("concurrentSessions"))("a key for an agent deleted meanwhile", () => {
  const handle = createDb(testDbOptions());
  afterAll(() => handle.end());

  for (const route of ["generate-key", "rotate-key"]) {
    it(`answers ${route} 404`, async () => {
      const { agentId } = await makeAgent();
      const admin = await tokenFor("root", { admin: true });
      const { pending } = await transaction(handle.db, async (tx) => {
        await tx.execute(sql`delete from agents where agent_id = ${agentId}`);
        const pending = call("POST", `/api/v1/admin/agents/${agentId}/${route}`, { token: admin });
        await waitForLockWaiter("the key's write waiting on the deleted row");
        return { pending }; // not awaited here: the delete commits first
      });
      const answer = await pending;
      expect(answer.status).toBe(404);
      expect(await answer.json()).toMatchObject({ error: "Agent not found", agentId });
    });
  }
});
