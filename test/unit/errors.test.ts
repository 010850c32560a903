import { describe, expect, it } from "vitest";
import { isDatabaseUnavailable, isRefusedByPostgres, isTransientConflict } from "../../src/errors";

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
});
