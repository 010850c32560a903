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

/** Rows a plan's scans of `table` and of its indexes read (returned or filtered out), over all their loops. */
export function rowsReadFrom(plan: unknown, table: string): number {
  const perLoop = (node: Record<string, unknown>) =>
    Number(node["Actual Rows"]) + Number(node["Rows Removed by Filter"] ?? 0) + Number(node["Rows Removed by Index Recheck"] ?? 0);
  const ofTable = (node: Record<string, unknown>) =>
    node["Relation Name"] === table || String(node["Index Name"]).startsWith(`idx_${table}_`) || node["Index Name"] === `${table}_pkey`;
  return planNodes(plan)
    .filter(ofTable)
    .reduce((n, node) => n + perLoop(node) * Number(node["Actual Loops"]), 0);
}
