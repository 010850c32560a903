import { describe, expect, it } from "vitest";
import { AppError, isDatabaseUnavailable, isOutcomeUnknown, isRefusedByPostgres, isTransientConflict } from "../../src/errors";

const withCode = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});

describe("classifying database errors", () => {
  it("count Neon's 500 (it could not reach its compute) and 502–504 as an outage, not a refusal", () => {
    for (const status of [500, 502, 503, 504]) {
      const err = withCode(`Server error (HTTP status ${status}): {"message":"Couldn't connect to compute node"}`);
      expect(isDatabaseUnavailable(err)).toBe(true);
      expect(isRefusedByPostgres(err)).toBe(false);
    }
  });

  it("judge a 500 that names a SQLSTATE by the SQLSTATE", () => {
    expect(isDatabaseUnavailable(withCode("Server error (HTTP status 500): starting up", "57P03"))).toBe(true);
    expect(isDatabaseUnavailable(withCode("Server error (HTTP status 500): password authentication failed", "28P01"))).toBe(false);
  });

  it("tell a statement Postgres refused from a deadlock, which a retry gets through", () => {
    expect(isRefusedByPostgres(withCode('relation "x" does not exist', "42P01"))).toBe(true);
    expect(isDatabaseUnavailable(withCode('relation "x" does not exist', "42P01"))).toBe(false);
    expect(isTransientConflict(withCode("deadlock detected", "40P01"))).toBe(true);
    expect(isTransientConflict(withCode("could not serialize access", "40001"))).toBe(true);
    expect(isTransientConflict(withCode("duplicate key", "23505"))).toBe(false);
  });

  it("count Neon's proxy failing to reach its compute over the wire (SQLSTATE XX000) as an outage", () => {
    expect(isDatabaseUnavailable(withCode("Couldn't connect to compute node: connection refused", "XX000"))).toBe(true);
    expect(isDatabaseUnavailable(withCode("internal error", "XX000"))).toBe(false);
  });

  it("call a write's outcome unknown when no answer of Postgres came, unless nothing was sent", () => {
    const lost = (source: unknown, message = "Error connecting to database") => Object.assign(new Error(message), { sourceError: source });
    // Unknown: our wait timed out, the connection dropped mid-request, a 5xx without a SQLSTATE.
    expect(isOutcomeUnknown(lost(new DOMException("no answer within 60000 ms", "TimeoutError")))).toBe(true);
    expect(isOutcomeUnknown(lost(new TypeError("Network connection lost.")))).toBe(true);
    expect(isOutcomeUnknown(withCode('Server error (HTTP status 500): {"message":"could not parse postgres response"}'))).toBe(true);
    expect(isOutcomeUnknown(withCode("Connection terminated unexpectedly"))).toBe(true);
    // Known: nothing was sent, or Postgres answered (and so rolled back).
    expect(isOutcomeUnknown(lost(new Error("connect ECONNREFUSED 127.0.0.1:5432")))).toBe(false);
    expect(isOutcomeUnknown(withCode(`Server error (HTTP status 500): {"message":"Couldn't connect to compute node"}`))).toBe(false);
    expect(isOutcomeUnknown(withCode("terminating connection due to administrator command", "57P01"))).toBe(false);
    expect(isOutcomeUnknown(withCode('relation "x" does not exist', "42P01"))).toBe(false);
  });

  it("judge our own errors by their code, not by the ids their messages quote", () => {
    for (const id of ["websocket-1", "agent-timeout", "econnrefused"]) {
      const notFound = new AppError("not_found", "Agent not found", `No agent ${id}`);
      expect(isDatabaseUnavailable(notFound)).toBe(false);
      expect(isOutcomeUnknown(notFound)).toBe(false);
    }
    const lost = new Error("Connection terminated unexpectedly");
    expect(isDatabaseUnavailable(new AppError("unavailable", "Service unavailable", "no answer", {}, { cause: lost }))).toBe(true);
  });

  it("never read a statement's parameters, which drizzle quotes, as the driver's words", () => {
    // An agent's error text saying what Neon's proxy says, in a statement Postgres refused.
    const refused = withCode("duplicate key value violates unique constraint", "23505");
    const quoted = Object.assign(new Error("Failed query: select finish($1)\nparams: Control plane request failed"), { cause: refused });
    expect(isDatabaseUnavailable(quoted)).toBe(false);
    expect(isRefusedByPostgres(quoted)).toBe(true);
  });
});
