/**
 * The session create's own SQL-over-HTTP request (src/db/sql-over-http.ts) against the real
 * endpoint: it must answer as the driver's path does and fail as the driver fails, because
 * errors.ts tells a refused statement (4xx) from an unreachable database (503) by those errors.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { isDatabaseUnavailable } from "../../src/errors";
import { rowsOverHttp, runOverHttp } from "../../src/db/sql-over-http";
import { withDb } from "../helpers/db";

describe("a statement over the session create's HTTP path", () => {
  it("answers every value as Postgres text, NULL as null, parameters bound", async () => {
    const rows = await withDb((db) =>
      runOverHttp(db.overHttp!, sql`select ${"it's"}::text, ${41}::integer + 1, null::text, array['a,b', 'c']::varchar[], ${'{"k":[1]}'}::jsonb`),
    );
    expect(rows).toEqual([["it's", "42", null, '{"a,b",c}', '{"k": [1]}']]);
  });

  it("parses rows and binds arrays, JSON and dates exactly as the driver's Pool.query does", async () => {
    const text = `select $1::text as t, $2::integer + 1 as n, $3::bigint as big, $4::varchar[] as ids,
      $5::jsonb as doc, $6::timestamptz as at, $7::boolean as yes, null::text as nothing,
      'a"b' = any($4::varchar[]) as quoted, cardinality($4::varchar[]) as count`;
    const params = ["it's", 41, "9007199254740993", ['a"b', "c,d", "e\\f", null], { k: [1, "x"] }, new Date("2026-11-28T01:02:03.456Z"), true];
    const [viaHttp, viaDriver] = await withDb(async (db) => [
      await rowsOverHttp(db.overHttp!, text, params),
      (await db.$client.query(text, params)).rows,
    ]);
    expect(viaHttp).toEqual(viaDriver);
    expect(viaHttp).toEqual([
      {
        t: "it's",
        n: 42,
        big: "9007199254740993",
        ids: ['a"b', "c,d", "e\\f", null],
        doc: { k: [1, "x"] },
        at: new Date("2026-11-28T01:02:03.456Z"),
        yes: true,
        nothing: null,
        quoted: true,
        count: 4,
      },
    ]);
  });

  it("fails with the Postgres error and its SQLSTATE, which is not an outage", async () => {
    const err = await withDb((db) => runOverHttp(db.overHttp!, sql`select * from no_such_table`)).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "NeonDbError", code: "42P01", message: 'relation "no_such_table" does not exist' });
    expect(isDatabaseUnavailable(err)).toBe(false);
  });

  it("is not offered on a transaction, whose statements must share its connection", async () => {
    await withDb(async (db) => {
      expect(db.overHttp).toBeTypeOf("function");
      await db.transaction(async (tx) => expect("overHttp" in tx).toBe(false));
    });
  });
});
