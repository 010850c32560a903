/**
 * The database's HTTP statements give up after the statement timeout, and leave no timer behind
 * once answered: a pending timer keeps a Durable Object from hibernating until it fires, which
 * with a 60 s timeout after every statement kept thousands of objects (and their files) in memory.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { timedFetch } from "../../src/db/sql-over-http";

let server: http.Server;
let url: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === "/silent") return; // never answers
    res.end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("a statement sent over HTTP", () => {
  it("clears its timeout as soon as the answer arrives", async () => {
    const set = vi.spyOn(globalThis, "setTimeout");
    const cleared = vi.spyOn(globalThis, "clearTimeout");
    const res = await timedFetch(60_000)(`${url}/sql`, { method: "POST", body: "{}" });
    expect(res.status).toBe(200);
    const timers = set.mock.calls.map((call, i) => ({ delay: call[1], handle: set.mock.results[i]?.value as unknown }));
    const ours = timers.filter((t) => t.delay === 60_000);
    expect(ours).toHaveLength(1);
    expect(cleared.mock.calls.map((call) => call[0])).toContain(ours[0]!.handle);
  });

  it("gives up after the timeout when no answer comes", async () => {
    const started = Date.now();
    const err = await timedFetch(200)(`${url}/silent`, { method: "POST", body: "{}" }).catch((e: unknown) => e);
    expect((err as Error).name).toBe("TimeoutError");
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
