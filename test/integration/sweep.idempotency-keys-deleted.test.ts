/**
 * The sweep deletes Idempotency-Keys past their 24 h in bounded batches until none are left (or
 * its time is up), not one batch a run: keys are written once per keyed request, and one batch
 * a minute would fall behind a client sending more than about eight a second.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { runSweepNow } from "../helpers/cron";
import { query, uniqueId } from "../helpers/db";

describe("the sweep's Idempotency-Key retention", () => {
  it("deletes every key older than 24 h in one run, in batches, and keeps younger ones", async () => {
    const scope = uniqueId("keys");
    await query(sql`insert into idempotency_keys (scope, key, request_hash, status_code, response, created_at)
      select ${scope}, 'old-' || g, 'h', 202, '{}'::jsonb, now() - interval '25 hours' from generate_series(1, 1200) g`);
    await query(sql`insert into idempotency_keys (scope, key, request_hash, status_code, response, created_at)
      values (${scope}, 'young', 'h', 202, '{}'::jsonb, now() - interval '23 hours')`);
    await runSweepNow();
    const left = await query<{ key: string }>(sql`select key from idempotency_keys where scope = ${scope}`);
    expect(left.map((r) => r.key)).toEqual(["young"]);
  });
});
