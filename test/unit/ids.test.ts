import { describe, expect, it } from "vitest";
import { newSessionId } from "../../src/lib/ids";

// A DNS-1035 label, as a Kubernetes Service name and a label value must be: up to 63 characters,
// lower-case alphanumerics and dashes, starting with a letter and ending alphanumeric.
const SERVICE_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

describe("session ids", () => {
  it("are <user>-<template>-<8 hex>, lower-cased and dash-safe", () => {
    expect(newSessionId("Alice", "Firefox Browser")).toMatch(/^alice-firefox-browser-[0-9a-f]{8}$/);
    expect(newSessionId("bob@example.com", "vs_code")).toMatch(/^bob-example-com-vs-code-[0-9a-f]{8}$/);
  });

  it("are Kubernetes Service names whatever the user and template are called", () => {
    expect(newSessionId("用户", "firefox")).toMatch(/^firefox-[0-9a-f]{8}$/);
    expect(newSessionId("--", "!!!")).toMatch(/^([a-f][0-9a-f]{7}|s-[0-9][0-9a-f]{7})$/);
    expect(newSessionId("用户", "7zip")).toMatch(/^s-7zip-[0-9a-f]{8}$/);
    expect(newSessionId("x".repeat(300), "y".repeat(300))).toMatch(/^x{25}-y{25}-[0-9a-f]{8}$/);
    const cases = [["用户", "浏览器"], ["-a-", "-b-"], ["x".repeat(300), "y".repeat(300)], ["1".repeat(40), "-".repeat(24) + "z".repeat(40)], ["a".repeat(24) + "-b", "c"]];
    for (const [user, template] of cases) {
      for (let i = 0; i < 20; i++) expect(newSessionId(user!, template!)).toMatch(SERVICE_NAME);
    }
  });
});
