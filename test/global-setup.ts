/**
 * Node side, once per run: a real Postgres (the machine's when reachable, else embedded PGlite),
 * a fresh database migrated from `migrations/`, and the WebSocket→TCP proxy the Neon driver
 * inside workerd talks through. Their addresses reach the Worker as bindings.
 */
/// <reference path="./provided-context.d.ts" />
import type { TestProject } from "vitest/node";
import { MACHINE_POSTGRES_URL, connectError, createScratchDatabase, findPostgres } from "../src/local/local-postgres";
import { migrateDatabase } from "../src/local/migrate";
import { findPgBouncer, startPgBouncer } from "../src/local/pgbouncer";
import { startWsProxy } from "../src/local/ws-proxy";

export default async function setup(project: TestProject) {
  const server = await findPostgres({ preferMachine: true });
  // .ci/run sets this when pg_isready answers: falling back to PGlite there would skip the tests
  // that need a real server and still pass, hiding why (a password the URL does not carry, say).
  const embeddedAsked = process.env["EMBEDDED_POSTGRES"] === "1";
  if (process.env["TEST_REQUIRE_MACHINE_POSTGRES"] === "1" && server.kind === "embedded" && !embeddedAsked) {
    await server.close();
    throw new Error(
      `Postgres answers on 127.0.0.1:5432 but ${MACHINE_POSTGRES_URL} did not let the tests in within 10 s (${await connectError(MACHINE_POSTGRES_URL)}): allow it (trust for 127.0.0.1), or set DATABASE_URL`,
    );
  }
  let databaseUrl = server.url;
  let drop = async () => {};
  if (server.kind !== "embedded") {
    // PGlite is one in-memory database already; real servers get a throwaway one per run.
    const scratch = await createScratchDatabase(server.url, `dispatch_test_${process.pid}`);
    databaseUrl = scratch.url;
    drop = scratch.drop;
  }
  await migrateDatabase(databaseUrl);
  // The Worker reaches a real server through PgBouncer when installed, as it reaches Neon's pooler.
  const pgbouncerBinary = server.kind === "embedded" ? undefined : findPgBouncer();
  const pooler = pgbouncerBinary ? await startPgBouncer(pgbouncerBinary, databaseUrl) : undefined;
  const proxy = await startWsProxy();
  console.log(`[tests] Postgres: ${server.kind}${pooler ? " via PgBouncer" : ""}; WebSocket proxy on 127.0.0.1:${proxy.port}`);
  project.provide("databaseUrl", pooler?.url ?? databaseUrl);
  project.provide("wsProxy", `127.0.0.1:${proxy.port}`);
  project.provide("pipelineConnect", pooler ? "true" : "false");
  project.provide("concurrentSessions", server.kind !== "embedded");
  return async () => {
    await proxy.close();
    await pooler?.close();
    await drop();
    await server.close();
  };
}
