/** The statements a query function sends, and what their plans read: for tests of index use. */
import type { PoolClient } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-serverless";
import type { Queryable } from "../../src/db/client";

export type Statement = { query: string; params: unknown[] };

/** Runs `fn` in a transaction that is rolled back, and returns the statements it sent. */
export async function statementsOf(client: PoolClient, fn: (db: Queryable) => Promise<unknown>): Promise<Statement[]> {
  const sent: Statement[] = [];
  const db = drizzle({ client, logger: { logQuery: (query, params) => void sent.push({ query, params }) } });
  const rollback = new Error("rollback");
  await db
    .transaction(async (tx) => {
      await fn(tx);
      throw rollback;
    })
    .catch((err: unknown) => {
      if (err !== rollback) throw err;
    });
  return sent.filter((s) => !/^(begin|commit|rollback)/i.test(s.query));
}

/** Every node of an `explain (format json)` plan, depth first. */
export function planNodes(plan: unknown): Array<Record<string, unknown>> {
  if (Array.isArray(plan)) return plan.flatMap(planNodes);
  if (plan === null || typeof plan !== "object") return [];
  const node = plan as Record<string, unknown>;
  const own = "Node Type" in node ? [node] : [];
  return [...own, ...Object.values(node).flatMap(planNodes)];
}
