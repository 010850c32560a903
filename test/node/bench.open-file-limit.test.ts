/**
 * The bench warns before it starts when the open-file limit is below what workerd will need for
 * the run (src/local/bench/open-files.ts): past it, workerd fails mid-run with "Too many open
 * files" and the figures mean nothing.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { openFileLimit, openFileWarning, openFilesNeeded } from "../../src/local/bench/open-files";
import { parseCli, presetConfig } from "../../src/local/bench/options";

function limitsFile(softLimit: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "limits-")), "limits");
  fs.writeFileSync(
    file,
    [
      "Limit                     Soft Limit           Hard Limit           Units",
      "Max processes             95000                95000                processes",
      `Max open files            ${softLimit.padEnd(20)} 1048576              files`,
      "",
    ].join("\n"),
  );
  return file;
}

describe("the bench's open-file check", () => {
  it("warns, naming the limit, the need and the command that raises it, when a full run would exceed the limit", () => {
    const full = presetConfig(false);
    expect(openFilesNeeded(full)).toBeGreaterThan(14_056); // the peak measured at 2,000 agents
    const warning = openFileWarning(full, 1_024);
    expect(warning).toContain("open-file limit is 1024");
    expect(warning).toContain("ulimit -n 17000");
  });

  it("stays quiet when the limit is enough, and sizes the need by the scenarios that run", () => {
    expect(openFileWarning(presetConfig(false), 20_000)).toBeUndefined();
    expect(openFileWarning(presetConfig(true), 20_000)).toBeUndefined();
    const roundTripsOnly = parseCli(["--scenario", "roundtrips"]).config;
    expect(openFileWarning(roundTripsOnly, 1_024)).toBeUndefined();
    expect(openFilesNeeded(parseCli(["--agents", "300"]).config)).toBeLessThan(openFilesNeeded(presetConfig(false)));
  });

  it("reads the soft limit, not the hard one, and treats unlimited as enough", () => {
    expect(openFileLimit(limitsFile("4096"))).toBe(4096);
    expect(openFileLimit(limitsFile("unlimited"))).toBe(Number.POSITIVE_INFINITY);
    expect(openFileLimit("/no/such/file")).toBeUndefined();
  });
});
