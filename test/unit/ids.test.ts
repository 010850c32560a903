import { describe, expect, it } from "vitest";
import { newSessionId } from "../../src/lib/ids";

// A Kubernetes object name: lower-case alphanumerics and dashes, starting and ending alphanumeric.
const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

describe("session ids", () => {
  it("are <user>-<template>-<8 hex>, lower-cased and dash-safe", () => {
    expect(newSessionId("Alice", "Firefox Browser")).toMatch(/^alice-firefox-browser-[0-9a-f]{8}$/);
    expect(newSessionId("bob@example.com", "vs_code")).toMatch(/^bob-example-com-vs-code-[0-9a-f]{8}$/);
  });

  it("leave out a part with nothing name-safe in it, so the name never starts with a dash", () => {
    expect(newSessionId("用户", "firefox")).toMatch(/^firefox-[0-9a-f]{8}$/);
    expect(newSessionId("--", "!!!")).toMatch(/^[0-9a-f]{8}$/);
    for (const [user, template] of [["用户", "浏览器"], ["-a-", "-b-"], ["x".repeat(300), "y".repeat(300)]] as const) {
      const id = newSessionId(user, template);
      expect(id).toMatch(K8S_NAME);
      expect(id.length).toBeLessThanOrEqual(253);
    }
  });
});
