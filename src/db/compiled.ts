/**
 * Statements whose SQL text is built once per isolate. drizzle builds a query's text on every
 * call, and on the Durable Object's paths (connect, claim, ack, record, complete) that building
 * was ~14 % of workerd's CPU in a profile of the connect storm, ~7 % in steady throughput. These
 * statements are still written with drizzle, with placeholders for their values; the text is
 * built on the first call and then sent as text and values.
 *
 * They run as the pool's single statements do, over one HTTP request, but through our own request
 * (sql-over-http.ts) rather than the driver's, whose per-call work showed in the same profiles;
 * bound ones can share one request as one transaction (inOneTransaction).
 * Rows come back as the driver parses them, keyed by column name (not drizzle's field names).
 */
import { fillPlaceholders, sql } from "drizzle-orm";
import type { Placeholder, SQLWrapper } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import type { Db } from "./client";
import { parseRows, rowsOverHttp } from "./sql-over-http";
import type { Statement } from "./sql-over-http";

const dialect = new PgDialect();

/** One placeholder per value name: `p.agentId` stands for `values.agentId`. */
export type Placeholders<V> = { readonly [K in keyof V & string]: Placeholder<K> };

type Rows = Record<string, unknown>[];

export type CompiledStatement<V> = ((db: Db, values: V) => Promise<Rows>) & {
  /** The text with `values`, to run with others in one transaction (see inOneTransaction). */
  bind(db: Db, values: V): Statement;
};

/**
 * `build` gets a Db to build with (any will do: the text does not depend on it) and the
 * placeholders. Array values bind as one Postgres array parameter (use `= any(...)`, not IN).
 */
export function compiled<V extends Record<string, unknown>>(
  build: (db: Db, p: Placeholders<V>) => SQLWrapper,
): CompiledStatement<V> {
  let query: { sql: string; params: unknown[] } | undefined;
  const bind = (db: Db, values: V): Statement => {
    query ??= dialect.sqlToQuery(build(db, placeholders as Placeholders<V>).getSQL());
    return { text: query.sql, params: fillPlaceholders(query.params, values) };
  };
  return Object.assign(
    (db: Db, values: V) => {
      const { text, params } = bind(db, values);
      return rowsOverHttp(db.overHttp, text, params);
    },
    { bind },
  );
}

/**
 * Runs bound statements as one transaction in one round trip (Neon's batch over HTTP), each
 * seeing the ones before it; the rows of each, in order. Any failure rolls all of them back.
 */
export async function inOneTransaction(db: Db, statements: Statement[]): Promise<Rows[]> {
  return (await db.overHttp.transaction(statements)).map(parseRows);
}

const placeholders = new Proxy({} as Record<string, Placeholder>, {
  get: (cache, name: string) => (cache[name] ??= sql.placeholder(name)),
});
