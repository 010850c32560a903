/**
 * Statements whose SQL text is built once per isolate. drizzle builds a query's text on every
 * call, and on the Durable Object's paths (connect, claim, ack, record, complete) that building
 * was ~14 % of workerd's CPU in a profile of the connect storm, ~7 % in steady throughput. These
 * statements are still written with drizzle, with placeholders for their values; the text is
 * built on the first call and then run on the pool as text and values.
 *
 * They run as the pool's single statements do, over one HTTP request, but through our own request
 * (sql-over-http.ts) rather than the driver's, whose per-call work showed in the same profiles.
 * Rows come back as the driver parses them, keyed by column name (not drizzle's field names).
 */
import { fillPlaceholders, sql } from "drizzle-orm";
import type { Placeholder, SQLWrapper } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import type { Db } from "./client";
import { rowsOverHttp } from "./sql-over-http";

const dialect = new PgDialect();

/** One placeholder per value name: `p.agentId` stands for `values.agentId`. */
export type Placeholders<V> = { readonly [K in keyof V & string]: Placeholder<K> };

export type CompiledStatement<V> = (db: Db, values: V) => Promise<Record<string, unknown>[]>;

/**
 * `build` gets a Db to build with (any will do: the text does not depend on it) and the
 * placeholders. Array values bind as one Postgres array parameter (use `= any(...)`, not IN).
 */
export function compiled<V extends Record<string, unknown>>(
  build: (db: Db, p: Placeholders<V>) => SQLWrapper,
): CompiledStatement<V> {
  let query: { sql: string; params: unknown[] } | undefined;
  return async (db, values) => {
    query ??= dialect.sqlToQuery(build(db, placeholders as Placeholders<V>).getSQL());
    const params = fillPlaceholders(query.params, values);
    if (db.overHttp) return rowsOverHttp(db.overHttp, query.sql, params);
    const result = await db.$client.query(query.sql, params);
    return result.rows as Record<string, unknown>[];
  };
}

const placeholders = new Proxy({} as Record<string, Placeholder>, {
  get: (cache, name: string) => (cache[name] ??= sql.placeholder(name)),
});
