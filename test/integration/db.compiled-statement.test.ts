/**
 * Statements built once per isolate (src/db/compiled.ts), the Durable Object's hot paths: the
 * text is built on the first call only, and every call binds its own values.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { compiled } from "../../src/db/compiled";
import { withDb } from "../helpers/db";

describe("a compiled statement", () => {
  it("is built once and binds each call's values, an array as one parameter", async () => {
    let builds = 0;
    const statement = compiled<{ ids: string[]; wanted: string; n: number }>((_db, p) => {
      builds++;
      return sql`select ${p.wanted} = any(${p.ids}) as found, ${p.n}::integer + 1 as next`;
    });
    const [first, second] = await withDb(async (db) => [
      await statement(db, { ids: ["a", "b,c"], wanted: "b,c", n: 1 }),
      await statement(db, { ids: ["a"], wanted: "b,c", n: 41 }),
    ]);
    expect(first).toEqual([{ found: true, next: 2 }]);
    expect(second).toEqual([{ found: false, next: 42 }]);
    expect(builds).toBe(1);
  });

  it("refuses a call that leaves a value out, instead of binding NULL", async () => {
    const statement = compiled<{ a: string; b: string }>((_db, p) => sql`select ${p.a}::text, ${p.b}::text`);
    const err = await withDb((db) => statement(db, { a: "x" } as { a: string; b: string })).catch((e: unknown) => e);
    expect(String(err)).toContain('No value for placeholder "b"');
  });
});
